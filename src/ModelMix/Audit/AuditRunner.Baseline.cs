using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Audit;

internal static partial class AuditRunner
{
    /// <summary>
    /// <see cref="FindBaselineAsync"/> over the hourly rollups: the whole hours before routing started are counted from
    /// their rollup rows (calls and recorded cost per served model), and raw rows are read only for the partial hours at
    /// the range's ends and for the hour routing started in (to find its first routed call). The same answer as the
    /// record-by-record search, which reads every raw row until the first routed one: with no routing in the range, all
    /// of them, sorted (the dashboard's first figure at 10M rows waited on that sort).
    /// </summary>
    private static async Task<(string? Baseline, DateTimeOffset? RoutingStart)> FindBaselineFromRollupsAsync(
        ILedgerStore store, ILedgerRollupStore rollups, PriceBook prices, LedgerQuery query, DateTimeOffset? routingStart, CancellationToken cancellationToken)
    {
        var counts = new Dictionary<string, (long Calls, decimal Cost)>(StringComparer.Ordinal);
        DateTimeOffset? start = routingStart;
        var from = query.From;
        var to = routingStart is { } given ? (query.To is { } end && end < given ? end : given) : query.To;

        void Count(string model, long calls, decimal cost)
        {
            if (prices.TryResolveId(model, out _))
            {
                var (c, total) = counts.GetValueOrDefault(model);
                counts[model] = (c + calls, total + cost);
            }
        }

        // Reads raw rows of [f, t) in order; true when it met the first routed call (the search ends there).
        async Task<bool> RawAsync(DateTimeOffset? f, DateTimeOffset? t)
        {
            await foreach (var record in store.ReadAsync(new LedgerQuery { From = f, To = t }, cancellationToken))
            {
                if (start is null && AuditAccumulator.IsRouted(record))
                {
                    start = record.Timestamp;
                    return true;
                }

                Count(AuditAccumulator.ServedModel(prices, record), 1, record.Cost?.Total ?? 0m);
            }

            return false;
        }

        DateTimeOffset? fullFrom = from is { } ff ? SqliteLedgerSchema.FromStoredTimestamp(LedgerRollupReader.CeilingHour(ff)) : null;
        DateTimeOffset? fullTo = to is { } tt ? SqliteLedgerSchema.FromStoredTimestamp(LedgerRollupReader.FloorHour(tt)) : null;
        var done = false;
        if (fullFrom is { } a && fullTo is { } b && a >= b)
        {
            done = await RawAsync(from, to); // less than one whole hour
        }
        else
        {
            if (from is { } first && fullFrom is { } whole && first < whole)
            {
                done = await RawAsync(first, whole);
            }

            if (!done)
            {
                var hour = new List<LedgerRollup>();
                async Task<bool> HourAsync()
                {
                    if (hour.Count == 0)
                    {
                        return false;
                    }

                    var at = hour[0].Hour;
                    var routed = start is null && hour.Exists(row => row.Policy is { Length: > 0 } policy && !string.Equals(policy, "passthrough", StringComparison.Ordinal));
                    if (routed)
                    {
                        return await RawAsync(at, at.AddHours(1)); // routing started in this hour: its first routed call
                    }

                    foreach (var row in hour)
                    {
                        var model = prices.TryResolveId(row.ResponseModel ?? string.Empty, out var response) ? response
                            : prices.TryResolveId(row.RoutedModel, out var routedId) ? routedId : row.RoutedModel;
                        Count(model, row.Calls, row.Priced ? row.Cost.Total : 0m);
                    }

                    hour.Clear();
                    return false;
                }

                await foreach (var row in ByDayAsync(rollups, fullFrom, fullTo, cancellationToken))
                {
                    if (hour.Count > 0 && row.Hour != hour[0].Hour && await HourAsync())
                    {
                        done = true;
                        break;
                    }

                    hour.Add(row);
                }

                done = done || await HourAsync();
            }

            if (!done && to is { } last && fullTo is { } lastWhole && lastWhole < last)
            {
                await RawAsync(lastWhole, last);
            }
        }

        if (start is null)
        {
            return (null, null); // nothing was ever routed: there is no "before routing" to compare with
        }

        var baseline = counts
            .OrderByDescending(pair => pair.Value.Calls).ThenByDescending(pair => pair.Value.Cost).ThenBy(pair => pair.Key, StringComparer.Ordinal)
            .Select(pair => pair.Key).FirstOrDefault();
        return (baseline, start);
    }

    /// <summary>
    /// The rollup rows of [<paramref name="from"/>, <paramref name="to"/>) read one UTC day at a time, so a search that
    /// stops early (routing started in the first hours) never has the database send the rest of the range.
    /// </summary>
    private static async IAsyncEnumerable<LedgerRollup> ByDayAsync(
        ILedgerRollupStore rollups, DateTimeOffset? from, DateTimeOffset? to, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (from is not { } start || to is not { } end)
        {
            // An open end (`modelmix audit` without --from or --to) is bounded by the days that have rollups: one pass over
            // the daily rows (a row per day and group; every hourly row has its day's row, pruned hours included), not a
            // stream of every hourly row, which PostgreSQL would send to its end even when the search stops early.
            DateTimeOffset? first = null, last = null;
            await foreach (var row in rollups.ReadDailyRollupsAsync(from, to, cancellationToken))
            {
                first ??= row.Hour;
                last = row.Hour;
            }

            if (first is null || last is null)
            {
                yield break;
            }

            start = from ?? first.Value;
            end = to ?? last.Value.AddDays(1);
        }

        for (var day = start; day < end;)
        {
            var midnight = new DateTimeOffset(day.UtcDateTime.Date, TimeSpan.Zero);
            var next = midnight.AddDays(1);
            if (day == midnight && next <= end)
            {
                // A whole day: its daily rows (one per group, Hour = midnight) stand for its hours when none of them was
                // routed (the search counts every call of such a day alike); a day routing started in goes hour by hour.
                var rows = new List<LedgerRollup>();
                await foreach (var row in rollups.ReadDailyRollupsAsync(day, next, cancellationToken))
                {
                    rows.Add(row);
                }

                if (!rows.Exists(row => row.Policy is { Length: > 0 } policy && !string.Equals(policy, "passthrough", StringComparison.Ordinal)))
                {
                    foreach (var row in rows)
                    {
                        yield return row;
                    }

                    day = next;
                    continue;
                }
            }

            // An hour at a time, so a search that stops at routing's first hour reads no further.
            var stop = next < end ? next : end;
            for (var at = day; at < stop; at = at.AddHours(1))
            {
                await foreach (var row in rollups.ReadRollupsAsync(at, at.AddHours(1) < stop ? at.AddHours(1) : stop, cancellationToken))
                {
                    yield return row;
                }
            }

            day = next;
        }
    }
}
