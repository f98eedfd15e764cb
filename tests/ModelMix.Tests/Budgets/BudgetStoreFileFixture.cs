using Microsoft.Data.Sqlite;
using ModelMix.Budgets;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// A migrated SQLite budget store on a fresh file in a folder of its own (named <paramref name="folderName"/> under the
/// temp folder), deleted after the class's test.
/// </summary>
public abstract class BudgetStoreFileFixture(string folderName) : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), folderName, Guid.NewGuid().ToString("N"));

    /// <summary>The budget store under test.</summary>
    protected SqliteBudgetStore Store { get; private set; } = null!;

    /// <summary>The store's file.</summary>
    protected string DbPath => Path.Combine(_folder, "ledger.db");

    public virtual async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        Store = new SqliteBudgetStore(DbPath);
        await Store.MigrateAsync();
    }

    public virtual async Task DisposeAsync()
    {
        await Store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }
}
