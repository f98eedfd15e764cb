using ModelMix.Pricing;

namespace ModelMix.Ledger;

/// <summary>
/// One row of the ledger's hourly rollups (docs/ledger.md, "Rollups"): every call of one UTC hour sharing the same
/// key, task label, policy, routed and response model, effort, status, attempt kind, escalated-from model, service
/// tier, speed, inference geo, priced-ness, has-tokens-ness and whether the effort was sent, summed. Kept by the ledger writer in the same
/// transaction as the raw rows, and kept when raw rows are pruned.
/// </summary>
public sealed record LedgerRollup
{
    /// <summary>The start of the UTC hour.</summary>
    public required DateTimeOffset Hour { get; init; }

    /// <summary>The virtual key id; null when the calls had none.</summary>
    public string? KeyId { get; init; }

    /// <summary>The task label; null when none.</summary>
    public string? TaskLabel { get; init; }

    /// <summary>The routing policy; null when none.</summary>
    public string? Policy { get; init; }

    /// <summary>The model the calls were sent to.</summary>
    public required string RoutedModel { get; init; }

    /// <summary>The model the upstream named in its responses; null when none answered.</summary>
    public string? ResponseModel { get; init; }

    /// <summary>The effort the calls ran at; null when none.</summary>
    public string? Effort { get; init; }

    /// <summary>The calls' outcome.</summary>
    public LedgerStatus Status { get; init; }

    /// <summary>0: routing calls (attempt 0); 1: first attempts; 2: later attempts (retries and escalations).</summary>
    public int AttemptKind { get; init; }

    /// <summary>The model escalated from (an escalation); null otherwise.</summary>
    public string? EscalatedFrom { get; init; }

    /// <summary>The calls' service tier.</summary>
    public ServiceTier ServiceTier { get; init; }

    /// <summary>The calls' speed.</summary>
    public Speed Speed { get; init; }

    /// <summary>The calls' inference geo; null when none was reported.</summary>
    public string? InferenceGeo { get; init; }

    /// <summary>Whether the calls carry a recorded cost (all of them do, or none).</summary>
    public bool Priced { get; init; }

    /// <summary>Whether the calls consumed any token (all of them did, or none).</summary>
    public bool HasTokens { get; init; }

    /// <summary>
    /// Whether the calls sent <see cref="Effort"/> as <c>output_config.effort</c> (all of them did, or none: then they
    /// ran at the model's default, or have no effort). A row of an hour whose raw rows were pruned before this dimension
    /// existed may mix both: true when some call sent it, and <see cref="EffortDefaultCalls"/> counts those that did not.
    /// </summary>
    public bool EffortSent { get; init; }

    /// <summary>Number of calls (ledger records).</summary>
    public long Calls { get; init; }

    /// <summary>Calls whose effort is the model's default because none was sent.</summary>
    public long EffortDefaultCalls { get; init; }

    /// <summary>The summed usage (token classes and server-tool uses), with the group's tier, speed and geo.</summary>
    public TokenUsage Usage { get; init; }

    /// <summary>Calls that read from the prompt cache.</summary>
    public long CacheReadCalls { get; init; }

    /// <summary>Thinking blocks the API dropped, summed.</summary>
    public long ThinkingBlocksDropped { get; init; }

    /// <summary>Calls that had at least one thinking block dropped.</summary>
    public long ThinkingDroppedCalls { get; init; }

    /// <summary>Exact cost of those calls.</summary>
    public decimal ThinkingDroppedCost { get; init; }

    /// <summary>Calls whose client hung up before the answer was complete.</summary>
    public long DisconnectedCalls { get; init; }

    /// <summary>Exact cost of those calls.</summary>
    public decimal DisconnectedCost { get; init; }

    /// <summary>Calls whose usage is ModelMix's estimate.</summary>
    public long EstimatedCalls { get; init; }

    /// <summary>Streamed calls.</summary>
    public long StreamingCalls { get; init; }

    /// <summary>Latency summed, in milliseconds.</summary>
    public long LatencyMsSum { get; init; }

    /// <summary>Calls per latency bucket; the bounds are <see cref="LatencyBucketBoundsMs"/>, plus one bucket for slower calls.</summary>
    public IReadOnlyList<long> LatencyBuckets { get; init; } = [];

    /// <summary>Exact cost by component (zero when not <see cref="Priced"/>).</summary>
    public CostBreakdown Cost { get; init; }

    /// <summary>The earliest call's timestamp.</summary>
    public DateTimeOffset FirstTimestamp { get; init; }

    /// <summary>The latest call's timestamp.</summary>
    public DateTimeOffset LastTimestamp { get; init; }

    /// <summary>The smallest prompt (every input token class) of one call.</summary>
    public long MinPromptTokens { get; init; }

    /// <summary>The largest prompt of one call.</summary>
    public long MaxPromptTokens { get; init; }

    /// <summary>The largest output of one call.</summary>
    public long MaxOutputTokens { get; init; }

    /// <summary>
    /// The part of the calls' cost charged to no key (upstream overrun beyond a budget's cap, docs/keys-and-budgets.md
    /// "Overshoot"), exact: already inside <see cref="Cost"/>, which is what the upstream billed.
    /// </summary>
    public decimal OverrunUsd { get; init; }

    /// <summary>Inclusive upper bounds (ms) of the latency buckets.</summary>
    public static IReadOnlyList<long> LatencyBucketBoundsMs => LedgerRollupSql.LatencyBoundsMs;
}

/// <summary>A ledger store that keeps hourly rollups (both stores ModelMix ships do).</summary>
public interface ILedgerRollupStore
{
    /// <summary>The rollup rows of the hours starting in [<paramref name="from"/>, <paramref name="to"/>), earliest hour first.</summary>
    /// <param name="from">The first hour (rounded down to the hour); null: from the first.</param>
    /// <param name="to">The hour to stop before (rounded up to the hour); null: through the last.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    IAsyncEnumerable<LedgerRollup> ReadRollupsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default);

    /// <summary>
    /// The daily rollup rows (kept by the writer with the hourly ones: each the sum of its day's hourly rows of the same
    /// group; <see cref="LedgerRollup.Hour"/> is the start of the UTC day) of the days starting in
    /// [<paramref name="from"/>, <paramref name="to"/>), earliest day first.
    /// </summary>
    /// <param name="from">The first day (rounded down to a UTC midnight); null: from the first.</param>
    /// <param name="to">The day to stop before (rounded up to a UTC midnight); null: through the last.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    IAsyncEnumerable<LedgerRollup> ReadDailyRollupsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reprices stored records: every record of the whole UTC hours covering [<paramref name="from"/>,
    /// <paramref name="to"/>) for which <paramref name="price"/> returns a cost gets that cost (an <c>unpriced</c> status
    /// becomes <c>ok</c>), and the rollups of those hours are recomputed from the raw rows, in one transaction.
    /// </summary>
    /// <param name="from">The first instant (rounded down to the hour).</param>
    /// <param name="to">The instant to stop before (rounded up to the hour).</param>
    /// <param name="price">A record's new cost, or null to leave it as it is.</param>
    /// <param name="cancellationToken">Cancels the repricing before it commits.</param>
    /// <returns>The number of records repriced.</returns>
    /// <exception cref="InvalidOperationException">Raw rows of those hours were pruned: their rollups cannot be recomputed.</exception>
    Task<long> RepriceAsync(DateTimeOffset from, DateTimeOffset to, Func<LedgerRecord, CostBreakdown?> price, CancellationToken cancellationToken = default);

    /// <summary>
    /// What the audit's per-session statistics and per-task latency need of each call of [<paramref name="from"/>,
    /// <paramref name="to"/>), earliest first: a few columns of the raw rows, not the records.
    /// </summary>
    /// <param name="from">Inclusive; null: from the first.</param>
    /// <param name="to">Exclusive; null: through the last.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    IAsyncEnumerable<LedgerCallSummary> ReadCallSummariesAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default);

    /// <summary>How many requests of [<paramref name="from"/>, <paramref name="to"/>) had an escalation (raw rows, a partial index).</summary>
    /// <param name="from">Inclusive; null: from the first.</param>
    /// <param name="to">Exclusive; null: through the last.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<long> CountEscalatedRequestsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default);

    /// <summary>The latest <paramref name="count"/> records of [<paramref name="from"/>, <paramref name="to"/>), newest first.</summary>
    /// <param name="from">Inclusive; null: from the first.</param>
    /// <param name="to">Exclusive; null: through the last.</param>
    /// <param name="count">How many.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    IAsyncEnumerable<LedgerRecord> ReadLatestAsync(DateTimeOffset? from, DateTimeOffset? to, int count, CancellationToken cancellationToken = default);

    /// <summary>
    /// Each session's calls of [<paramref name="from"/>, <paramref name="to"/>) summed in the database (one row per key
    /// and session id; calls without a session id left out): what the audit's per-session statistics need, without
    /// sending every call to the client.
    /// </summary>
    /// <param name="from">Inclusive; null: from the first.</param>
    /// <param name="to">Exclusive; null: through the last.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    IAsyncEnumerable<LedgerSessionSummary> ReadSessionSummariesAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default);

    /// <summary>
    /// Per task label, the 95th percentile latency of the first attempts (attempt 1, not an escalation, latency above 0)
    /// of [<paramref name="from"/>, <paramref name="to"/>): the ⌈0.95·n⌉-th smallest of the task's n latencies, found
    /// in the database.
    /// </summary>
    /// <param name="from">Inclusive; null: from the first.</param>
    /// <param name="to">Exclusive; null: through the last.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    IAsyncEnumerable<LedgerTaskLatency> ReadFirstAttemptP95LatencyAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default);
}

/// <summary>One call, as the audit's per-session statistics and per-task latency need it.</summary>
/// <param name="KeyId">The key that made it; null without a key.</param>
/// <param name="SessionId">Its session id; null without one.</param>
/// <param name="Timestamp">When the call started.</param>
/// <param name="Cost">Its recorded cost; 0 when unpriced.</param>
/// <param name="TaskLabel">Its task label; null without one.</param>
/// <param name="Attempt">Its attempt number.</param>
/// <param name="Escalation">Whether it is an escalation.</param>
/// <param name="LatencyMs">Its latency.</param>
public readonly record struct LedgerCallSummary(
    string? KeyId, string? SessionId, DateTimeOffset Timestamp, decimal Cost, string? TaskLabel, int Attempt, bool Escalation, long LatencyMs);
