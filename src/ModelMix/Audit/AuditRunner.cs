using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Audit;

/// <summary>
/// Runs an audit over a ledger store by streaming its records (any <see cref="ILedgerStore"/>: SQLite today,
/// PostgreSQL later), so memory does not grow with the ledger.
/// </summary>
internal static partial class AuditRunner
{
    /// <summary>
    /// Audits the records of <see cref="AuditOptions.From"/>..<see cref="AuditOptions.To"/>. When no baseline model is
    /// given, the records before routing started are read first (and only they) to find the model used most then.
    /// </summary>
    /// <param name="store">The ledger store (migrated).</param>
    /// <param name="prices">The price book.</param>
    /// <param name="options">Range and bounds.</param>
    /// <param name="progress">Receives the number of records read so far, every 10,000 records; optional.</param>
    /// <param name="cancellationToken">Stops the audit.</param>
    public static async Task<AuditReport> RunAsync(ILedgerStore store, PriceBook prices, AuditOptions options, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(options);
        var query = new LedgerQuery { From = options.From, To = options.To };
        if (options.BaselineModel is null)
        {
            var (baseline, start) = store is ILedgerRollupStore withRollups && options.UseRollups
                ? options is { DayCache: { } cache, RoutingStart: null, From: { } f, To: { } t } && store is ILedgerDayVersions versions
                    ? await cache.BaselineAsync(store, versions, prices, f, t, () => FindBaselineFromRollupsAsync(store, withRollups, prices, query, null, cancellationToken), cancellationToken)
                    : await FindBaselineFromRollupsAsync(store, withRollups, prices, query, options.RoutingStart, cancellationToken)
                : await FindBaselineAsync(store, prices, query, options.RoutingStart, cancellationToken);
            options = options with { BaselineModel = baseline, RoutingStart = options.RoutingStart ?? start };
        }

        if (store is ILedgerRollupStore rollups && options.UseRollups)
        {
            return await RunFromRollupsAsync(rollups, store, prices, options, progress, cancellationToken);
        }

        var audit = new AuditAccumulator(prices, options);
        var latencies = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        long read = 0;
        await foreach (var record in store.ReadAsync(query, cancellationToken))
        {
            audit.Add(record);
            if (options.TaskLatency && record.Attempt == 1 && record.EscalatedFrom is null && record.LatencyMs > 0)
            {
                var task = record.TaskLabel ?? "(none)";
                if (!latencies.TryGetValue(task, out var list))
                {
                    latencies[task] = list = [];
                }

                list.Add(record.LatencyMs);
            }

            if (++read % 10_000 == 0)
            {
                progress?.Report(read);
            }
        }

        progress?.Report(read);
        var report = audit.Build();

        // Each task's p95 latency of first attempts, for "when not to route" (a latency target per task).
        return report with
        {
            TaskCosts = [.. report.TaskCosts.Select(t => latencies.TryGetValue(t.Task, out var list) ? t with { P95LatencyMs = P95(list) } : t)],
        };
    }

    /// <summary>
    /// The audit over the hourly rollups (docs/ledger.md, "Rollups"): the whole hours of the range from rollup rows, the
    /// partial hours at its ends and any hour whose rollups cannot stand for their calls (a price change inside it, a row
    /// straddling a long-context threshold, a call a target could not have served) from raw rows; sessions, escalated
    /// requests and the recent records from raw rows apart; the per-session statistics summed in the database from the
    /// writer's per-session hourly rows (raw rows when the range starts inside an hour) and each task's p95 latency ranked
    /// over the raw rows, both over <see cref="AuditOptions.SessionWindow"/> (the whole range by default).
    /// A UTC day's rollup rows are summed per group before they are added when the day allows it (<see cref="AuditRollupSpans"/>). Every figure
    /// equals the raw audit's (the tests run both ways).
    /// </summary>
    private static async Task<AuditReport> RunFromRollupsAsync(
        ILedgerRollupStore rollups, ILedgerStore store, PriceBook prices, AuditOptions options, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var audit = new AuditAccumulator(prices, options, fromRollups: true);
        var target = audit; // where calls go: the audit, or the part of one whole day kept in options.DayCache
        long read = 0;

        async Task RawAsync(DateTimeOffset? from, DateTimeOffset? to)
        {
            await foreach (var record in store.ReadAsync(new LedgerQuery { From = from, To = to }, cancellationToken))
            {
                target.Add(record);
                read++;
            }
        }

        // An hour whose raw rows were pruned (retention, docs/ledger.md) is taken from its rollups even when they cannot
        // stand for every what-if repricing: its spend, calls and tokens stay exact, which its missing raw rows could not give.
        async Task<bool> PrunedAsync(DateTimeOffset at, List<LedgerRollup> rows) =>
            await store.CountAsync(new LedgerQuery { From = at, To = at.AddHours(1) }, cancellationToken) != rows.Sum(row => row.Calls);

        var from = options.From;
        var to = options.To;
        var hour = new List<LedgerRollup>();
        async Task HourAsync()
        {
            if (hour.Count == 0)
            {
                return;
            }

            var at = hour[0].Hour;
            if (target.CanAddRollups(at, hour) || await PrunedAsync(at, hour))
            {
                foreach (var row in hour)
                {
                    target.AddRollup(row);
                    read += row.Calls;
                }
            }
            else
            {
                await RawAsync(at, at.AddHours(1));
            }

            hour.Clear();
            progress?.Report(read);
        }

        // [a, b) within one UTC day, the fallback for a day whose daily rows cannot stand for it: whole hours from their
        // hourly rows (each hour from its raw rows when its rows cannot stand for their calls), partial hours from raw rows.
        async Task SpanAsync(DateTimeOffset a, DateTimeOffset b)
        {
            var wholeFrom = SqliteLedgerSchema.FromStoredTimestamp(LedgerRollupReader.CeilingHour(a));
            var wholeTo = SqliteLedgerSchema.FromStoredTimestamp(LedgerRollupReader.FloorHour(b));
            if (wholeFrom >= wholeTo)
            {
                await RawAsync(a, b); // less than one whole hour
                return;
            }

            if (a < wholeFrom)
            {
                await RawAsync(a, wholeFrom);
            }

            // A day's hourly rows are summed per group first (AuditRollupSpans): when the summed rows can stand for
            // their calls, so could each hour's.
            var rows = new List<LedgerRollup>();
            await foreach (var row in rollups.ReadRollupsAsync(wholeFrom, wholeTo, cancellationToken))
            {
                rows.Add(row);
            }

            var merged = AuditRollupSpans.Merge(rows);
            if (rows.Count > 0 && target.CanAddRollupSpan(rows[0].Hour, rows[^1].Hour.AddHours(1), merged))
            {
                foreach (var row in merged)
                {
                    target.AddRollup(row);
                    read += row.Calls;
                }

                progress?.Report(read);
            }
            else
            {
                foreach (var row in rows)
                {
                    if (hour.Count > 0 && row.Hour != hour[0].Hour)
                    {
                        await HourAsync();
                    }

                    hour.Add(row);
                }

                await HourAsync();
            }

            if (wholeTo < b)
            {
                await RawAsync(wholeTo, b);
            }
        }

        // Every UTC day the range touches comes from the daily rollups the writer keeps (each row a day's hourly rows of
        // one group, summed) when its rows can stand for their calls: for a day the range covers only in part, when
        // every call of the day lies inside the range (its rows' first and last timestamps say so: e.g. today up to
        // now). Otherwise the day's part of the range is taken hour by hour (SpanAsync). Days without calls have no rows.
        DateTimeOffset? dayFrom = from is { } f ? SqliteLedgerSchema.FromStoredTimestamp(LedgerRollupReader.FloorDay(f)) : null;
        DateTimeOffset? dayTo = to is { } t ? SqliteLedgerSchema.FromStoredTimestamp(LedgerRollupReader.CeilingDay(t)) : null;
        var day = new List<LedgerRollup>();
        async Task DayAsync()
        {
            if (day.Count == 0)
            {
                return;
            }

            var at = day[0].Hour;
            var next = at.AddDays(1);
            var inside = (from is not { } a || a <= at || day.TrueForAll(row => row.FirstTimestamp >= a))
                && (to is not { } b || b >= next || day.TrueForAll(row => row.LastTimestamp < b));
            // The day's calls lie in [spanFrom, spanTo): a price change after the range's end cannot concern them.
            var spanFrom = from is { } c && c > at ? c : at;
            var spanTo = to is { } e && e < next ? e : next;
            if (inside && target.CanAddRollupSpan(spanFrom, spanTo, day))
            {
                foreach (var row in day)
                {
                    target.AddRollup(row);
                    read += row.Calls;
                }

                progress?.Report(read);
            }
            else
            {
                await SpanAsync(spanFrom, spanTo);
            }

            day.Clear();
        }

        // With a day cache (the dashboard), each whole day of the range whose version (read before its rows) is the one kept
        // is taken from the cache; the other days are read, and each whole one computed apart and kept.
        var cache = options.DayCache is { } c && store is ILedgerDayVersions && dayFrom is not null && dayTo is not null ? c : null;
        IReadOnlyDictionary<DateTimeOffset, long> versions = new Dictionary<DateTimeOffset, long>();
        var context = cache is null ? null : AuditDayCache.ContextOf(store, prices, audit, options);
        var cached = new HashSet<DateTimeOffset>();
        bool Whole(DateTimeOffset at) => (from is not { } a || a <= at) && (to is not { } b || b >= at.AddDays(1));
        if (cache is not null)
        {
            versions = await ((ILedgerDayVersions)store).ReadDayVersionsAsync(dayFrom!.Value, dayTo!.Value, cancellationToken);
            for (var at = dayFrom.Value; at < dayTo.Value; at = at.AddDays(1))
            {
                if (Whole(at) && cache.TryGet(context!, at, versions.GetValueOrDefault(at), out var part))
                {
                    audit.Merge(part);
                    cached.Add(at);
                }
            }
        }

        async Task ReadDaysAsync(DateTimeOffset? a, DateTimeOffset? b)
        {
            await foreach (var row in rollups.ReadDailyRollupsAsync(a, b, cancellationToken))
            {
                if (day.Count > 0 && row.Hour != day[0].Hour)
                {
                    await CachedDayAsync();
                }

                day.Add(row);
            }

            await CachedDayAsync();
        }

        async Task CachedDayAsync()
        {
            if (cache is null || day.Count == 0 || !Whole(day[0].Hour))
            {
                await DayAsync();
                return;
            }

            var at = day[0].Hour;
            target = new AuditAccumulator(prices, options, fromRollups: true);
            try
            {
                await DayAsync();
                cache.Set(context!, at, versions.GetValueOrDefault(at), target);
                audit.Merge(target);
            }
            finally
            {
                target = audit;
            }
        }

        if (cached.Count == 0)
        {
            await ReadDaysAsync(dayFrom, dayTo);
        }
        else
        {
            // The runs of days not in the cache, each in one read.
            DateTimeOffset? runFrom = null;
            for (var at = dayFrom!.Value; at <= dayTo!.Value; at = at.AddDays(1))
            {
                var missing = at < dayTo.Value && !cached.Contains(at);
                if (missing)
                {
                    runFrom ??= at;
                }
                else if (runFrom is { } r)
                {
                    await ReadDaysAsync(r, at);
                    runFrom = null;
                }
            }
        }

        // The session window ends at the range's end, or at the latest call when the range is open-ended.
        DateTimeOffset? until = to;
        if (options.SessionWindow is not null && until is null)
        {
            await foreach (var latest in rollups.ReadLatestAsync(from, null, 1, cancellationToken))
            {
                until = latest.Timestamp.AddTicks(1);
            }
        }

        // The window starts on the hour at or before its end less its length (a day: the last 24 to 25 hours), so the
        // per-session sums come whole from the writer's per-session hourly rows (LedgerRollupSql.SessionTable), never raw rows.
        var sessionsFrom = options.SessionWindow is { } window && until is { } u && (from is null || HourBefore(u - window) > from) ? HourBefore(u - window) : from;
        // Summed and ranked in the database: one row per session and per task reaches the client, not every call.
        await foreach (var session in rollups.ReadSessionSummariesAsync(sessionsFrom, to, cancellationToken))
        {
            audit.AddSession(session.KeyId, session.SessionId, session.First, session.Last, session.Cost, session.Calls);
        }

        var latencies = new Dictionary<string, long>(StringComparer.Ordinal);
        if (options.TaskLatency)
        {
            await foreach (var task in rollups.ReadFirstAttemptP95LatencyAsync(sessionsFrom, to, cancellationToken))
            {
                latencies[task.Task] = task.P95LatencyMs;
            }
        }

        audit.EscalatedRequests = await rollups.CountEscalatedRequestsAsync(from, to, cancellationToken);
        if (options.RecentCount > 0)
        {
            var recent = new List<LedgerRecord>(options.RecentCount);
            await foreach (var record in rollups.ReadLatestAsync(from, to, options.RecentCount, cancellationToken))
            {
                recent.Add(record);
            }

            audit.SetRecent(recent);
        }

        progress?.Report(read);
        var report = audit.Build();
        return report with
        {
            SessionWindowFrom = sessionsFrom != from ? sessionsFrom : null,
            TaskCosts = [.. report.TaskCosts.Select(task => latencies.TryGetValue(task.Task, out var p95) ? task with { P95LatencyMs = p95 } : task)],
        };
    }

    private static DateTimeOffset HourBefore(DateTimeOffset instant) => SqliteLedgerSchema.FromStoredTimestamp(LedgerRollupReader.FloorHour(instant));

    private static long P95(List<long> values)
    {
        values.Sort();
        return values[(int)(((95L * values.Count) + 99) / 100) - 1]; // the ⌈0.95·n⌉-th smallest, as the stores rank it
    }

    /// <summary>
    /// The model that served the most records before routing started (ties: the dearer total, then the name), and when
    /// routing started; reads only the records before that instant.
    /// </summary>
    private static async Task<(string? Baseline, DateTimeOffset? RoutingStart)> FindBaselineAsync(
        ILedgerStore store, PriceBook prices, LedgerQuery query, DateTimeOffset? routingStart, CancellationToken cancellationToken)
    {
        var counts = new Dictionary<string, (long Calls, decimal Cost)>(StringComparer.Ordinal);
        DateTimeOffset? start = routingStart;
        var before = routingStart is { } given ? query with { To = query.To is { } to && to < given ? to : given } : query;
        await foreach (var record in store.ReadAsync(before, cancellationToken))
        {
            if (start is null && AuditAccumulator.IsRouted(record))
            {
                start = record.Timestamp;
                break;
            }

            var model = AuditAccumulator.ServedModel(prices, record);
            if (prices.TryResolveId(model, out _))
            {
                var (calls, cost) = counts.GetValueOrDefault(model);
                counts[model] = (calls + 1, cost + (record.Cost?.Total ?? 0m));
            }
        }

        if (start is null)
        {
            // Nothing was ever routed: there is no "before routing" to compare with.
            return (null, null);
        }

        var baseline = counts
            .OrderByDescending(pair => pair.Value.Calls).ThenByDescending(pair => pair.Value.Cost).ThenBy(pair => pair.Key, StringComparer.Ordinal)
            .Select(pair => pair.Key).FirstOrDefault();
        return (baseline, start);
    }
}
