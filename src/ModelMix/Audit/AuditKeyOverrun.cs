namespace ModelMix.Audit;

/// <summary>
/// A key's spend charged to no key (<see cref="AuditReport.OverrunByKey"/>): what the upstream billed beyond what the
/// key's budget cap let it be charged (docs/keys-and-budgets.md, "Overshoot").
/// </summary>
/// <param name="Key">The key id; <c>(none)</c> without one.</param>
/// <param name="OverrunUsd">The overrun, exact.</param>
internal sealed record AuditKeyOverrun(string Key, decimal OverrunUsd);
