namespace ModelMix.Audit;

/// <summary>Spend of one group of records (a model, a task label, a key, a day).</summary>
/// <param name="Name">The group: model id, task label, key id or ISO date; <c>(none)</c> when the records carry no value.</param>
/// <param name="Calls">Records (attempts) in the group.</param>
/// <param name="CostUsd">Their exact recorded cost in USD (unpriced records add nothing).</param>
/// <param name="UnpricedCalls">Records in the group without a recorded cost.</param>
internal sealed record AuditBucket(string Name, long Calls, decimal CostUsd, long UnpricedCalls);
