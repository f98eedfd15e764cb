namespace ModelMix.Audit;

/// <summary>
/// Where the money went over a time range of the ledger, what routing, caching and batching saved, and what looks
/// wrong. Every amount is exact decimal USD. Calls are ledger records (attempts); requests are records with attempt 1.
/// </summary>
internal sealed record AuditReport
{
    /// <summary>The range asked for (inclusive); null: from the first record.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>The range asked for (exclusive); null: through the last record.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>The earliest record's timestamp, null when there are none.</summary>
    public DateTimeOffset? FirstRecord { get; init; }

    /// <summary>The latest record's timestamp, null when there are none.</summary>
    public DateTimeOffset? LastRecord { get; init; }

    /// <summary>When routing started (given, or the first routed record); null when nothing was routed.</summary>
    public DateTimeOffset? RoutingStart { get; init; }

    /// <summary>Records read.</summary>
    public long Calls { get; init; }

    /// <summary>
    /// Records without a recorded cost (a model the catalog could not price). They are left out of every money figure —
    /// the recorded totals and the repriced ones (counterfactuals, savings) alike — and counted here with their tokens.
    /// </summary>
    public long UnpricedCalls { get; init; }

    /// <summary>Prompt tokens (input, cache writes and reads) of the <see cref="UnpricedCalls"/>.</summary>
    public long UnpricedPromptTokens { get; init; }

    /// <summary>Output tokens of the <see cref="UnpricedCalls"/>.</summary>
    public long UnpricedOutputTokens { get; init; }

    /// <summary>Exact total recorded cost (of the priced calls).</summary>
    public decimal TotalUsd { get; init; }

    /// <summary>
    /// 30.4375 days (an average month) ÷ the length of the range: multiply a total over the range by it for a monthly
    /// figure. The range is From..To when given, else first..last record, and never shorter than one day.
    /// </summary>
    public decimal MonthlyFactor { get; init; }

    /// <summary>Spend by the model that served each call (canonical id), dearest first.</summary>
    public IReadOnlyList<AuditBucket> ByModel { get; init; } = [];

    /// <summary>
    /// Spend by the model that served each call and the effort it ran at, dearest first: calls, tokens, cost and the
    /// share of calls that ran at the model's default effort.
    /// </summary>
    public IReadOnlyList<AuditEffortBucket> ByModelAndEffort { get; init; } = [];

    /// <summary>Spend by task label, dearest first.</summary>
    public IReadOnlyList<AuditBucket> ByTask { get; init; } = [];

    /// <summary>Spend by virtual key id, dearest first.</summary>
    public IReadOnlyList<AuditBucket> ByKey { get; init; } = [];

    /// <summary>Spend by UTC day (<c>yyyy-MM-dd</c>), earliest first.</summary>
    public IReadOnlyList<AuditBucket> ByDay { get; init; } = [];

    /// <summary>UTC day → model → cost: spend over time per model.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, decimal>> ByDayAndModel { get; init; } = new Dictionary<string, IReadOnlyDictionary<string, decimal>>();

    /// <summary>Cost per session over the whole range (or from <see cref="SessionWindowFrom"/> on); null when no record has a session id.</summary>
    public AuditSessionStats? Sessions { get; init; }

    /// <summary>
    /// When the per-session statistics (<see cref="Sessions"/> and its before/after split), the runaway-session flags and
    /// each task's p95 latency start, when they cover only the end of the range (<see cref="AuditOptions.SessionWindow"/>):
    /// they are read from raw rows, over that bounded window. Null when they cover the whole range.
    /// </summary>
    public DateTimeOffset? SessionWindowFrom { get; init; }

    /// <summary>Sessions that started before routing did; null unless both periods have sessions.</summary>
    public AuditSessionStats? SessionsBeforeRouting { get; init; }

    /// <summary>Sessions that started once routing had; null unless both periods have sessions.</summary>
    public AuditSessionStats? SessionsAfterRouting { get; init; }

    /// <summary>The model mix: share of calls and of cost per tier, most calls first.</summary>
    public IReadOnlyList<AuditTierShare> Tiers { get; init; } = [];

    /// <summary>Prompt caching.</summary>
    public required AuditCacheStats Cache { get; init; }

    /// <summary>Message Batches.</summary>
    public required AuditBatchStats Batch { get; init; }

    /// <summary>Escalations and retries.</summary>
    public required AuditEscalationStats Escalations { get; init; }

    /// <summary>Thinking blocks the API dropped from prompts, the calls affected and their cost (all zero when none).</summary>
    public AuditDroppedThinking DroppedThinking { get; init; } = AuditDroppedThinking.None;

    /// <summary>
    /// Calls whose client hung up before the answer was complete, by key (<c>(none)</c> without a key): they are billed
    /// all the same, and their cost is in every total above (docs/ledger.md, "Clients that hang up").
    /// </summary>
    public IReadOnlyList<AuditBucket> ClientDisconnectsByKey { get; init; } = [];

    /// <summary>
    /// Per key (<c>(none)</c> without one), the spend charged to no key: what the upstream billed beyond what the key's
    /// budget cap let it be charged (upstream overrun, docs/keys-and-budgets.md "Overshoot"), largest first; empty when
    /// none. Already inside every total above (the ledger keeps what the upstream billed).
    /// </summary>
    public IReadOnlyList<AuditKeyOverrun> OverrunByKey { get; init; } = [];

    /// <summary>Records whose usage is ModelMix's estimate (a stopped call, a stream without its final usage), not the upstream's report.</summary>
    public long EstimatedUsageCalls { get; init; }

    /// <summary>
    /// The "all on the top model" and "all on the model used before routing" bills (when there is one), over the priced
    /// calls, the same calls as <see cref="TotalUsd"/>.
    /// </summary>
    public IReadOnlyList<AuditCounterfactual> Counterfactuals { get; init; } = [];

    /// <summary>Flags, in the order tier shares, low-volume tasks, runaway sessions, dropped thinking.</summary>
    public IReadOnlyList<AuditFlag> Flags { get; init; } = [];

    /// <summary>Per task label, what recommendations need (repriced costs, cheap-first paths).</summary>
    public IReadOnlyList<AuditTaskCost> TaskCosts { get; init; } = [];

    /// <summary>The latest records, newest first (as many as <see cref="AuditOptions.RecentCount"/>).</summary>
    public IReadOnlyList<AuditRecentRecord> Recent { get; init; } = [];
}
