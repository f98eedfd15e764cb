namespace ModelMix.Ledger;

/// <summary>
/// The rollup rows of one ledger batch, summed in memory from the records the batch inserted, so the SQLite writer
/// upserts one row per hour (and day) × group instead of re-aggregating the raw rows it just wrote with its managed
/// decimal functions (about 20 callbacks a row, one string each: the writer's largest cost, docs/performance.md).
/// </summary>
/// <remarks>
/// The grouping and measures are <see cref="LedgerRollupSql"/>'s, taken from the values the row is stored with
/// (the SQLite text codes, <c>NULL</c> as empty text, decimals exactly as recorded): the SQL stays the definition for
/// backfills, recomputes and PostgreSQL, and the rollup tests compare what this path writes with an independent
/// regrouping of the raw rows, row by row. Reused from batch to batch (the writer's lock serialises it): after
/// warm-up a batch allocates nothing here.
/// </remarks>
internal sealed class LedgerRollupBatch
{
    /// <summary>Positions in <see cref="Sums.Integers"/>, in <see cref="LedgerRollupSql.IntegerSums"/> order.</summary>
    private const int Calls = 0, EffortDefaultCalls = 1, InputTokens = 2, OutputTokens = 3, CacheWrite5mTokens = 4,
        CacheWrite1hTokens = 5, CacheReadTokens = 6, WebSearchRequests = 7, WebFetchRequests = 8, CacheReadCalls = 9,
        ThinkingBlocksDropped = 10, ThinkingDroppedCalls = 11, DisconnectedCalls = 12, EstimatedCalls = 13,
        StreamingCalls = 14, LatencyMsSum = 15, FirstLatencyBucket = 16;

    /// <summary>Positions in <see cref="Sums.Money"/>, in <see cref="LedgerRollupSql.MoneySums"/> order, then the overrun.</summary>
    private const int CostInput = 0, CostOutput = 1, CostCacheWrite5m = 2, CostCacheWrite1h = 3, CostCacheRead = 4,
        CostServerTools = 5, CostTotal = 6, ThinkingDroppedCost = 7, DisconnectedCost = 8, Overrun = 9;

    private static readonly int IntegerCount = LedgerRollupSql.IntegerSums.Length;
    private static readonly int MoneyCount = LedgerRollupSql.MoneySums.Length + 1;

    private readonly Dictionary<Key, Sums> _hourly = [];
    private readonly Dictionary<Key, Sums> _daily = [];
    private readonly Stack<Sums> _free = new();

    static LedgerRollupBatch()
    {
        // The positions above name the SQL's columns; a column added there must be added here too.
        if (IntegerCount != FirstLatencyBucket + LedgerRollupSql.LatencyBoundsMs.Length + 1 || MoneyCount != Overrun + 1)
        {
            throw new InvalidOperationException("LedgerRollupBatch does not match LedgerRollupSql's measures.");
        }
    }

    /// <summary>The hourly rows so far.</summary>
    public IReadOnlyDictionary<Key, Sums> Hourly => _hourly;

    /// <summary>The daily rows so far.</summary>
    public IReadOnlyDictionary<Key, Sums> Daily => _daily;

    /// <summary>Whether no record was added since <see cref="Clear"/>.</summary>
    public bool IsEmpty => _hourly.Count == 0;

    /// <summary>Adds a record the batch inserted (a record skipped as already stored must not be added).</summary>
    public void Add(LedgerRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var stored = SqliteLedgerSchema.ToStoredTimestamp(record.Timestamp);
        var key = KeyOf(record, stored - (stored % LedgerRollupSql.HourTicks));
        AddTo(_hourly, key, record, stored);
        AddTo(_daily, key with { Hour = stored - (stored % LedgerRollupSql.DayTicks) }, record, stored);
    }

    /// <summary>Forgets every row (after the batch committed or rolled back); their sums are kept for reuse.</summary>
    public void Clear()
    {
        foreach (var sums in _hourly.Values)
        {
            _free.Push(sums);
        }

        foreach (var sums in _daily.Values)
        {
            _free.Push(sums);
        }

        _hourly.Clear();
        _daily.Clear();
    }

    private static Key KeyOf(LedgerRecord r, long hour)
    {
        var usage = r.Usage;
        var effort = r.Effort ?? string.Empty;
        return new Key(
            hour,
            r.KeyId ?? string.Empty,
            r.TaskLabel ?? string.Empty,
            r.Policy ?? string.Empty,
            r.RoutedModel,
            r.ResponseModel ?? string.Empty,
            effort,
            SqliteLedgerSchema.ToCode(r.Status),
            r.Attempt == 0 ? 0 : r.Attempt == 1 ? 1 : 2,
            r.EscalatedFrom ?? string.Empty,
            SqliteLedgerSchema.ToCode(usage.ServiceTier),
            SqliteLedgerSchema.ToCode(usage.Speed),
            usage.InferenceGeo ?? string.Empty,
            r.Cost is null ? 0 : 1,
            usage.OutputTokens != 0 || usage.TotalInputTokens != 0 ? 1 : 0,
            effort.Length != 0 && !r.EffortIsDefault ? 1 : 0);
    }

    private void AddTo(Dictionary<Key, Sums> rows, Key key, LedgerRecord r, long stored)
    {
        var usage = r.Usage;
        var prompt = usage.TotalInputTokens;
        if (!rows.TryGetValue(key, out var s))
        {
            s = _free.Count > 0 ? _free.Pop() : new Sums();
            Array.Clear(s.Integers);
            Array.Clear(s.Money);
            s.FirstTimestamp = stored;
            s.LastTimestamp = stored;
            s.MinPromptTokens = prompt;
            s.MaxPromptTokens = prompt;
            s.MaxOutputTokens = usage.OutputTokens;
            rows.Add(key, s);
        }
        else
        {
            s.FirstTimestamp = Math.Min(s.FirstTimestamp, stored);
            s.LastTimestamp = Math.Max(s.LastTimestamp, stored);
            s.MinPromptTokens = Math.Min(s.MinPromptTokens, prompt);
            s.MaxPromptTokens = Math.Max(s.MaxPromptTokens, prompt);
            s.MaxOutputTokens = Math.Max(s.MaxOutputTokens, usage.OutputTokens);
        }

        var n = s.Integers;
        n[Calls]++;
        n[EffortDefaultCalls] += r.EffortIsDefault ? 1 : 0;
        n[InputTokens] += usage.InputTokens;
        n[OutputTokens] += usage.OutputTokens;
        n[CacheWrite5mTokens] += usage.CacheWrite5mTokens;
        n[CacheWrite1hTokens] += usage.CacheWrite1hTokens;
        n[CacheReadTokens] += usage.CacheReadTokens;
        n[WebSearchRequests] += usage.WebSearchRequests;
        n[WebFetchRequests] += usage.WebFetchRequests;
        n[CacheReadCalls] += usage.CacheReadTokens > 0 ? 1 : 0;
        n[ThinkingBlocksDropped] += r.ThinkingBlocksDropped;
        n[ThinkingDroppedCalls] += r.ThinkingBlocksDropped > 0 ? 1 : 0;
        n[DisconnectedCalls] += r.ClientDisconnected ? 1 : 0;
        n[EstimatedCalls] += r.UsageEstimated ? 1 : 0;
        n[StreamingCalls] += r.Streaming ? 1 : 0;
        n[LatencyMsSum] += r.LatencyMs;
        n[FirstLatencyBucket + LedgerRollupSql.LatencyBucket(r.LatencyMs)]++;

        var m = s.Money;
        if (r.Cost is { } cost)
        {
            var total = cost.Total;
            m[CostInput] += cost.Input;
            m[CostOutput] += cost.Output;
            m[CostCacheWrite5m] += cost.CacheWrite5m;
            m[CostCacheWrite1h] += cost.CacheWrite1h;
            m[CostCacheRead] += cost.CacheRead;
            m[CostServerTools] += cost.ServerTools;
            m[CostTotal] += total;
            if (r.ThinkingBlocksDropped > 0)
            {
                m[ThinkingDroppedCost] += total;
            }

            if (r.ClientDisconnected)
            {
                m[DisconnectedCost] += total;
            }
        }

        if (r.OverrunUsd is { } overrun)
        {
            m[Overrun] += overrun;
        }
    }

    /// <summary>A rollup row's grouping values as stored, in <see cref="LedgerRollupSql.Dimensions"/> order.</summary>
    internal readonly record struct Key(
        long Hour, string KeyId, string TaskLabel, string Policy, string RoutedModel, string ResponseModel, string Effort,
        string Status, int AttemptKind, string EscalatedFrom, string ServiceTier, string Speed, string InferenceGeo,
        int Priced, int HasTokens, int EffortSent);

    /// <summary>A rollup row's measures: <see cref="LedgerRollupSql.IntegerSums"/>, money (<see cref="LedgerRollupSql.MoneySums"/> then the overrun), minimums and maximums.</summary>
    internal sealed class Sums
    {
        public long[] Integers { get; } = new long[IntegerCount];

        public decimal[] Money { get; } = new decimal[MoneyCount];

        public long FirstTimestamp { get; set; }

        public long MinPromptTokens { get; set; }

        public long LastTimestamp { get; set; }

        public long MaxPromptTokens { get; set; }

        public long MaxOutputTokens { get; set; }
    }
}
