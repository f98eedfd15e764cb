using Microsoft.Data.Sqlite;
using ModelMix.Ledger;
using ModelMix.Tests.Ledger;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Audit;

/// <summary>
/// The dashboard's day cache on SQLite (<see cref="AuditDayCacheContract"/>; the PostgreSQL twin is
/// PostgresAuditDayCacheTests): equal to the uncached report after mixed traffic, a late row, a repricing, a correction,
/// an overrun booked on a closed day's row and a prune.
/// </summary>
public sealed class AuditDayCacheTests : IDisposable
{
    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task The_cached_report_equals_the_uncached_one_after_every_kind_of_change_to_a_closed_day()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await AuditDayCacheContract.RunAsync(store, _db.Folder, async (id, usd) =>
        {
            // SqliteBudgetStore.BookOverrun's statement (the row has no overrun before: the contract books one per row).
            await using var connection = new SqliteConnection($"Data Source={_db.FilePath}");
            await connection.OpenAsync();
            SqliteLedgerRollups.RegisterFunctions(connection); // the rollups' overrun trigger sums decimal text
            await using var update = connection.CreateCommand();
            update.CommandText = "UPDATE ledger_records SET overrun_usd = $o WHERE id = $id;";
            update.Parameters.AddWithValue("$o", SqliteLedgerSchema.ToStoredDecimal(usd));
            update.Parameters.AddWithValue("$id", id);
            Assert.Equal(1, await update.ExecuteNonQueryAsync());
        });
    }
}
