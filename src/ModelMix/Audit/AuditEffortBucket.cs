namespace ModelMix.Audit;

/// <summary>Spend of the calls one model served at one <c>output_config.effort</c> level.</summary>
/// <param name="Model">The model that served the calls (canonical id, as in <see cref="AuditReport.ByModel"/>).</param>
/// <param name="Effort">
/// The effort the calls ran at (<c>low</c> … <c>max</c>: the level sent, or the model's default when none was sent);
/// <c>(none)</c> when the records carry none (a model without the parameter, an unknown default, or a record written
/// before the ledger stored effort).
/// </param>
/// <param name="Calls">Records (attempts) in the group.</param>
/// <param name="PromptTokens">Their prompt tokens: uncached input, cache writes and cache reads.</param>
/// <param name="OutputTokens">Their output tokens (thinking included).</param>
/// <param name="CostUsd">Their exact recorded cost in USD (unpriced records add nothing).</param>
/// <param name="UnpricedCalls">Records in the group without a recorded cost.</param>
/// <param name="DefaultEffortCalls">Records that sent no effort, so ran at the model's default.</param>
/// <param name="DefaultEffortShare"><paramref name="DefaultEffortCalls"/> ÷ <paramref name="Calls"/> (0–1).</param>
internal sealed record AuditEffortBucket(
    string Model,
    string Effort,
    long Calls,
    long PromptTokens,
    long OutputTokens,
    decimal CostUsd,
    long UnpricedCalls,
    long DefaultEffortCalls,
    decimal DefaultEffortShare);
