using ModelMix.Pricing;

namespace ModelMix.Ledger;

public sealed partial class SqliteLedgerStore : ILedgerCorrections
{
    /// <inheritdoc />
    public Task<int> CorrectEstimatesAsync(IReadOnlyList<(string Id, TokenUsage Usage)> corrections, Func<LedgerRecord, CostBreakdown?> price, CancellationToken cancellationToken = default) =>
        LedgerStoreSql.CorrectEstimatesAsync(Dialect, InWriteTransactionAsync, corrections, price, cancellationToken);
}
