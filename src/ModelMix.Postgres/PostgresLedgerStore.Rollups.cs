using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Postgres;

public sealed partial class PostgresLedgerStore : ILedgerRollupStore, ILedgerDayVersions
{
    /// <inheritdoc />
    Task<IReadOnlyDictionary<DateTimeOffset, long>> ILedgerDayVersions.ReadDayVersionsAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        LedgerStoreSql.ReadDayVersionsAsync(Dialect, OpenCheckedReaderAsync, from, to, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRollup> ReadRollupsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.ReadRollupsAsync(Dialect, OpenCheckedReaderAsync, from, to, daily: false, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRollup> ReadDailyRollupsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.ReadRollupsAsync(Dialect, OpenCheckedReaderAsync, from, to, daily: true, cancellationToken);

    /// <inheritdoc />
    public Task<long> RepriceAsync(DateTimeOffset from, DateTimeOffset to, Func<LedgerRecord, CostBreakdown?> price, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.RepriceAsync(Dialect, InWriteTransactionAsync, from, to, price, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<LedgerCallSummary> ReadCallSummariesAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.ReadCallSummariesAsync(Dialect, OpenCheckedReaderAsync, from, to, cancellationToken);

    /// <inheritdoc />
    public Task<long> CountEscalatedRequestsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.CountEscalatedRequestsAsync(Dialect, OpenCheckedReaderAsync, from, to, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRecord> ReadLatestAsync(DateTimeOffset? from, DateTimeOffset? to, int count, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.ReadLatestAsync(Dialect, OpenCheckedReaderAsync, from, to, count, cancellationToken);
}
