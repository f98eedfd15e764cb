using ModelMix.Ledger;

namespace ModelMix.Postgres;

public sealed partial class PostgresLedgerStore
{
    /// <inheritdoc />
    public IAsyncEnumerable<LedgerSessionSummary> ReadSessionSummariesAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.ReadSessionSummariesAsync(Dialect, OpenCheckedReaderAsync, from, to, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<LedgerTaskLatency> ReadFirstAttemptP95LatencyAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.ReadFirstAttemptP95LatencyAsync(Dialect, OpenCheckedReaderAsync, from, to, cancellationToken);
}
