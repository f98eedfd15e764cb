using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Audit;

/// <summary>
/// What an audit derived from each whole UTC day of its range (the day's calls priced and repriced: an
/// <see cref="AuditAccumulator"/> fed only that day), kept with the day's version (<see cref="LedgerDayVersions"/>), so
/// the next audit over that day reads its version alone and not its rows, as long as nothing changed in it (a late row, an
/// overrun, a repricing, a correction or a prune raises the version in the same transaction). The dashboard keeps one per
/// ledger store; a closed day is read once, today on every view. Exact: a part read from the cache is the same part the
/// audit would compute from the same rows, and <see cref="AuditAccumulator.Merge"/> adds it without changing a digit.
/// </summary>
/// <remarks>
/// Safe for concurrent audits. A part is kept for the price book, store, repricing targets and routing-start rule it was
/// computed with; an audit with others empties the cache first. At most <see cref="MaxDays"/> days are kept (the oldest
/// dropped first).
/// </remarks>
internal sealed class AuditDayCache
{
    private readonly object _lock = new();
    private readonly Dictionary<DateTimeOffset, (long Version, AuditAccumulator Part)> _days = [];
    private Context? _context;
    private long _hits, _misses;

    /// <summary>The most days kept; default 400 (a year's dashboard and then some).</summary>
    public int MaxDays { get; init; } = 400;

    /// <summary>Days read from the cache so far.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Whole days computed from their rows (and kept) so far.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>The key parts are kept under: everything besides a day's rows that a part depends on.</summary>
    internal sealed record Context(ILedgerStore Store, PriceBook Prices, string Targets, bool RoutingStartGiven);

    internal static Context ContextOf(ILedgerStore store, PriceBook prices, AuditAccumulator audit, AuditOptions options) =>
        new(store, prices, string.Join('\n', audit.RepriceTargets), options.RoutingStart is not null);

    private Baseline? _baseline;

    private sealed record Baseline(ILedgerStore Store, PriceBook Prices, DateTimeOffset From, IReadOnlyDictionary<DateTimeOffset, long> Versions, string? Model, DateTimeOffset Start);

    /// <summary>
    /// The automatic baseline search of [<paramref name="from"/>, <paramref name="to"/>) (the model used most before routing
    /// started, and when it started): kept with the versions of the days it read, from the range's first day to the day routing
    /// started in — its answer depends on those rows only, as it stops at the first routed call — and searched again
    /// (<paramref name="search"/>) when one of them changed, the range starts elsewhere, or nothing was routed before
    /// <paramref name="to"/>.
    /// </summary>
    internal async Task<(string? Baseline, DateTimeOffset? RoutingStart)> BaselineAsync(
        ILedgerStore store, ILedgerDayVersions versions, PriceBook prices, DateTimeOffset from, DateTimeOffset to,
        Func<Task<(string? Baseline, DateTimeOffset? RoutingStart)>> search, CancellationToken cancellationToken)
    {
        var first = SqliteLedgerSchema.FromStoredTimestamp(LedgerRollupReader.FloorDay(from));
        Baseline? kept;
        lock (_lock)
        {
            kept = _baseline;
        }

        if (kept is not null && kept.Store == store && kept.Prices == prices && kept.From == from && kept.Start < to)
        {
            var last = SqliteLedgerSchema.FromStoredTimestamp(LedgerRollupReader.FloorDay(kept.Start));
            var now = await versions.ReadDayVersionsAsync(first, last.AddDays(1), cancellationToken);
            var same = true;
            for (var day = first; day <= last && same; day = day.AddDays(1))
            {
                same = now.GetValueOrDefault(day) == kept.Versions.GetValueOrDefault(day);
            }

            if (same)
            {
                Interlocked.Increment(ref _baselineHits);
                return (kept.Model, kept.Start);
            }
        }

        var before = await versions.ReadDayVersionsAsync(first, to, cancellationToken); // before the rows: see LedgerDayVersions
        var found = await search();
        if (found.RoutingStart is { } start && start < to)
        {
            lock (_lock)
            {
                _baseline = new Baseline(store, prices, from, before, found.Baseline, start);
            }
        }

        return found;
    }

    private long _baselineHits;

    /// <summary>Baseline searches answered from the cache so far.</summary>
    public long BaselineHits => Interlocked.Read(ref _baselineHits);

    /// <summary>The part kept for <paramref name="day"/> at <paramref name="version"/>, if any.</summary>
    internal bool TryGet(Context context, DateTimeOffset day, long version, out AuditAccumulator part)
    {
        lock (_lock)
        {
            if (context == _context && _days.TryGetValue(day, out var kept) && kept.Version == version)
            {
                part = kept.Part;
                _hits++;
                return true;
            }
        }

        part = null!;
        return false;
    }

    /// <summary>Keeps <paramref name="part"/> (no longer changed by anyone) for <paramref name="day"/> at <paramref name="version"/>.</summary>
    internal void Set(Context context, DateTimeOffset day, long version, AuditAccumulator part)
    {
        lock (_lock)
        {
            _misses++;
            if (context != _context)
            {
                _days.Clear();
                _context = context;
            }

            _days[day] = (version, part);
            while (_days.Count > MaxDays)
            {
                _days.Remove(_days.Keys.Min());
            }
        }
    }
}
