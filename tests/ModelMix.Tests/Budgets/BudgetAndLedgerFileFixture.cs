using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Ledger;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// A SQLite budget store and a ledger store on one fresh file, both migrated, as the proxy runs them; the file's folder
/// is deleted after the class's test.
/// </summary>
public abstract class BudgetAndLedgerFileFixture(string folderName) : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), folderName, Guid.NewGuid().ToString("N"));

    /// <summary>The budget store under test.</summary>
    protected SqliteBudgetStore Store { get; private set; } = null!;

    /// <summary>The ledger on the same file.</summary>
    protected SqliteLedgerStore Ledger { get; private set; } = null!;

    /// <summary>The one file both stores use.</summary>
    protected string DbPath => Path.Combine(_folder, "ledger.db");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        Store = new SqliteBudgetStore(DbPath);
        await Store.MigrateAsync();
        Ledger = new SqliteLedgerStore(DbPath);
        await Ledger.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await Ledger.DisposeAsync();
        await Store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }
}
