using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Audit;

/// <summary>
/// Runs an audit over a ledger store by streaming its records (any <see cref="ILedgerStore"/>: SQLite today,
/// PostgreSQL later), so memory does not grow with the ledger.
/// </summary>
public static class AuditRunner
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
            var (baseline, start) = await FindBaselineAsync(store, prices, query, options.RoutingStart, cancellationToken);
            options = options with { BaselineModel = baseline, RoutingStart = options.RoutingStart ?? start };
        }

        var audit = new AuditAccumulator(prices, options);
        var latencies = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        long read = 0;
        await foreach (var record in store.ReadAsync(query, cancellationToken))
        {
            audit.Add(record);
            if (record.Attempt == 1 && record.EscalatedFrom is null && record.LatencyMs > 0)
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

    private static long P95(List<long> values)
    {
        values.Sort();
        return values[Math.Min(values.Count - 1, (int)Math.Ceiling(0.95 * values.Count) - 1)];
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
