using Microsoft.Data.Sqlite;
using ModelMix.Budgets;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// What <see cref="BudgetStoreDialect.PurgeReclaimed"/> deletes, read off the SQLite file (issue 27: the budgets run's
/// survivors). A purged reservation and its counter items leave no trace in the API (a late settlement of it changes
/// nothing either way: its items are what it would charge), so the rows are counted: a purge that left either table's
/// rows behind would grow the file without bound.
/// </summary>
public sealed class BudgetStoreDialectTests() : BudgetStoreFileFixture("modelmix-budget-dialect-tests")
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(15);
    private static readonly DateTimeOffset T0 = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);
    private static BudgetLimit Daily(string scope) => new(scope, scope, BudgetWindow.Day, 1m);

    [Fact]
    public async Task A_reclaimed_reservation_past_the_retention_is_purged_with_its_items()
    {
        // Two counters (key and team): one reservation row, two item rows.
        Assert.True((await Store.ReserveAsync("req-a", [Daily("key:k1"), Daily("team:t1")], 0.25m, T0, Ttl)).Succeeded);
        Assert.Equal(1, await Store.ReconcileExpiredAsync(T0 + Ttl)); // reclaimed at T0 + Ttl, its rows kept
        Assert.Equal((1L, 2L), await Rows());

        // Reclaimed exactly the retention ago: not yet older than it, kept.
        Assert.Equal(0, await Store.ReconcileExpiredAsync(T0 + Ttl + SqliteBudgetStore.ReclaimedRetention));
        Assert.Equal((1L, 2L), await Rows());

        // One tick later it is older: the reservation and both its items go.
        Assert.Equal(0, await Store.ReconcileExpiredAsync(T0 + Ttl + SqliteBudgetStore.ReclaimedRetention + TimeSpan.FromTicks(1)));
        Assert.Equal((0L, 0L), await Rows());
    }

    [Fact]
    public async Task A_purge_keeps_open_reservations_and_their_items()
    {
        Assert.True((await Store.ReserveAsync("req-old", [Daily("key:k1")], 0.25m, T0, Ttl)).Succeeded);
        Assert.Equal(1, await Store.ReconcileExpiredAsync(T0 + Ttl));
        var late = T0 + Ttl + SqliteBudgetStore.ReclaimedRetention;
        Assert.True((await Store.ReserveAsync("req-new", [Daily("key:k1")], 0.25m, late, Ttl)).Succeeded);

        // req-old is purged; req-new (open, expiring at late + Ttl) keeps its row and its item.
        Assert.Equal(0, await Store.ReconcileExpiredAsync(late + TimeSpan.FromTicks(1)));
        Assert.Equal((1L, 1L), await Rows());
    }

    private async Task<(long Reservations, long Items)> Rows()
    {
        await using var connection = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT COUNT(*) FROM budget_reservations), (SELECT COUNT(*) FROM budget_reservation_items);";
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}
