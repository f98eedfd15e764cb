using ModelMix.Ledger;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// A SQLite budget store and a ledger store on one fresh file, both migrated, as the proxy runs them; the file's folder
/// is deleted after the class's test.
/// </summary>
public abstract class BudgetAndLedgerFileFixture(string folderName) : BudgetStoreFileFixture(folderName)
{
    /// <summary>The ledger on the same file.</summary>
    protected SqliteLedgerStore Ledger { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Ledger = new SqliteLedgerStore(DbPath);
        await Ledger.MigrateAsync();
    }

    public override async Task DisposeAsync()
    {
        await Ledger.DisposeAsync();
        await base.DisposeAsync();
    }
}
