using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Postgres;

public sealed partial class PostgresLedgerStore : ILedgerCorrections
{
    /// <inheritdoc />
    public Task<int> CorrectEstimatesAsync(IReadOnlyList<(string Id, TokenUsage Usage)> corrections, Func<LedgerRecord, CostBreakdown?> price, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.CorrectEstimatesAsync(Dialect, InWriteTransactionAsync, corrections, price, cancellationToken);
}
