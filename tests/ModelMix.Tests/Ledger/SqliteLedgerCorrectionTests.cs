using ModelMix.Ledger;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// Correcting estimated records (<see cref="ILedgerCorrections"/>) on SQLite: only the estimated ones change, once, the
/// hourly rollups stay equal to the raw rows, and an hour with pruned raw rows is refused (<see cref="LedgerCorrectionContractTests{TStore}"/>).
/// </summary>
public sealed class SqliteLedgerCorrectionTests : LedgerCorrectionContractTests<SqliteLedgerStore>, IDisposable
{
    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    protected override async Task<SqliteLedgerStore> StoreWithAsync(LedgerRecord[] records)
    {
        var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteBatchAsync(records);
        return store;
    }
}
