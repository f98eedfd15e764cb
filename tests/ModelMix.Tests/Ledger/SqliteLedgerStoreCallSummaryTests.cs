using Microsoft.Data.Sqlite;
using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// <see cref="SqliteLedgerStore.ReadCallSummariesAsync"/> (public, <see cref="ILedgerRollupStore"/>) reads each call's
/// escalation flag as stored: written from the fourteenth session's <c>ledger-sqlite</c> mutation run, in which reading
/// the flag inverted (<c>!= 0</c> → <c>== 0</c>) left every test green (nothing in the product reads it any more; the
/// interface's callers may).
/// </summary>
public sealed class SqliteLedgerStoreCallSummaryTests : IDisposable
{
    private readonly TempDatabase _db = new();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _db.Dispose();
    }

    [Fact]
    public async Task Each_call_summary_says_whether_the_call_was_an_escalation()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteBatchAsync(
        [
            LedgerRecords.Simple(0) with { TaskLabel = "plain" },
            LedgerRecords.Simple(1) with { TaskLabel = "escalated", EscalatedFrom = "claude-haiku-4-5", Attempt = 2 },
        ]);

        var summaries = new List<LedgerCallSummary>();
        await foreach (var summary in store.ReadCallSummariesAsync(from: null, to: null))
        {
            summaries.Add(summary);
        }

        Assert.Equal([("plain", 1, false), ("escalated", 2, true)], summaries.Select(summary => (summary.TaskLabel, summary.Attempt, summary.Escalation)));
    }
}
