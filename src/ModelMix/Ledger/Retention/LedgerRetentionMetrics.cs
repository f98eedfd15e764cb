using System.Diagnostics.Metrics;
using ModelMix.Telemetry;

namespace ModelMix.Ledger;

/// <summary>
/// Retention's instruments on the <c>ModelMix</c> meter (Prometheus: <c>modelmix_ledger_retention_rows_exported_total</c>,
/// <c>…_rows_pruned_total</c>, <c>…_partitions_dropped_total</c>, <c>…_runs_total{outcome}</c> with outcome ok, failed
/// or locked, and <c>modelmix_ledger_retention_last_success_seconds</c> (Unix time), 0 until a run succeeded).
/// </summary>
internal sealed class LedgerRetentionMetrics : IDisposable
{
    private readonly Meter? _owned;
    private readonly Counter<long> _exported;
    private readonly Counter<long> _pruned;
    private readonly Counter<long> _partitions;
    private readonly Counter<long> _runs;
    private long _lastSuccess;

    /// <summary>Creates the instruments on the <c>ModelMix</c> meter of <paramref name="meterFactory"/> (a private meter when null).</summary>
    /// <param name="meterFactory">The host's meter factory.</param>
    public LedgerRetentionMetrics(IMeterFactory? meterFactory = null)
    {
        var meter = meterFactory?.Create(ModelMixMetrics.MeterName) ?? (_owned = new Meter(ModelMixMetrics.MeterName));
        _exported = meter.CreateCounter<long>("modelmix.ledger.retention.rows_exported", "{row}", "Raw ledger rows written to retention export files.");
        _pruned = meter.CreateCounter<long>("modelmix.ledger.retention.rows_pruned", "{row}", "Raw ledger rows deleted by retention after their export.");
        _partitions = meter.CreateCounter<long>("modelmix.ledger.retention.partitions_dropped", "{partition}", "PostgreSQL ledger partitions dropped whole by retention.");
        _runs = meter.CreateCounter<long>("modelmix.ledger.retention.runs", "{run}", "Retention runs by outcome: ok, failed, locked (another process held the lock).");
        meter.CreateObservableGauge("modelmix.ledger.retention.last_success", () => Volatile.Read(ref _lastSuccess), "s",
            "Unix time of the last successful retention run; 0 until one succeeded.");
    }

    /// <summary>The last successful run; null until one succeeded.</summary>
    public DateTimeOffset? LastSuccess => Volatile.Read(ref _lastSuccess) is > 0 and var seconds ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;

    internal void Exported(long rows)
    {
        if (rows > 0)
        {
            _exported.Add(rows);
        }
    }

    internal void Pruned(long rows)
    {
        if (rows > 0)
        {
            _pruned.Add(rows);
        }
    }

    internal void PartitionsDropped(int count)
    {
        if (count > 0)
        {
            _partitions.Add(count);
        }
    }

    internal void RunEnded(string outcome, DateTimeOffset? succeededAt)
    {
        _runs.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
        if (succeededAt is { } at)
        {
            Volatile.Write(ref _lastSuccess, at.ToUnixTimeSeconds());
        }
    }

    /// <inheritdoc />
    public void Dispose() => _owned?.Dispose();
}
