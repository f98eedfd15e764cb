using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Ledger;

namespace ModelMix.Tests.Budgets;

/// <summary>The budget contract on SQLite, plus what is particular to the SQLite file.</summary>
public sealed class SqliteBudgetStoreTests : BudgetStoreContractTests
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-budget-tests", Guid.NewGuid().ToString("N"));

    private string DbPath => Path.Combine(_folder, "ledger.db");

    protected override Task CreateDatabaseAsync() => Task.CompletedTask;

    protected override Task DeleteDatabaseAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
        return Task.CompletedTask;
    }

    protected override IBudgetStore NewBudgetStore() => new SqliteBudgetStore(DbPath);

    protected override ILedgerStore NewLedgerStore() => new SqliteLedgerStore(DbPath);

    [Fact]
    public async Task Budget_tables_do_not_touch_the_ledger_schema_version()
    {
        await using var ledger = new SqliteLedgerStore(DbPath);
        await ledger.MigrateAsync();
        await using var again = new SqliteBudgetStore(DbPath);
        await again.MigrateAsync();

        await using var connection = new SqliteConnection($"Data Source={DbPath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version;";
        Assert.Equal((long)SqliteLedgerStore.SchemaVersion, await command.ExecuteScalarAsync());
        command.CommandText = "SELECT version FROM modelmix_schema_versions WHERE component = 'budgets';";
        Assert.Equal(4L, await command.ExecuteScalarAsync()); // step 4: lease lives and the tails of reclaimed leases
    }
}
