using Microsoft.Data.Sqlite;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// Intents in the SQLite <c>ledger_intents</c> table (written only by a process of an earlier version, before intents
/// moved to append-only files) are still completed by the batch that commits their records. The writer asks once per
/// batch whether the table holds any row and skips the per-record delete when it does not, so these tests pin that the
/// answer is asked again for every batch and that a batch which finds rows deletes exactly its records' intents.
/// </summary>
public sealed class SqliteTableIntentCompletionTests : IDisposable
{
    private static readonly DateTimeOffset Started = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly TempDatabase _db = new();
    private int _next;

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task A_batch_deletes_the_table_intents_of_its_records_and_keeps_the_others()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        var (mine, other) = (NextRecord(), NextRecord());
        InsertTableIntent(mine.Id);
        InsertTableIntent(other.Id);

        await store.WriteBatchAsync([NextRecord(), mine]); // the first record has no intent; the second does

        Assert.Equal([other.Id], TableIntentIds());
    }

    [Fact]
    public async Task An_intent_an_older_process_writes_after_a_batch_found_none_is_completed_by_the_next_batch()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteBatchAsync([NextRecord()]); // the table is empty: this batch skips the deletes

        var late = NextRecord();
        InsertTableIntent(late.Id); // an earlier version's process, between two batches
        await store.WriteBatchAsync([late]);

        Assert.Empty(TableIntentIds());
    }

    private void InsertTableIntent(string id)
    {
        using var connection = _db.OpenIndependentConnection();
        using var insert = connection.CreateCommand();
        insert.CommandText = """
            INSERT INTO ledger_intents (id, created_at, instance_id, request_id, requested_model, routed_model, attempt,
                effort_is_default, streaming, input_tokens, output_tokens)
            VALUES ($id, 0, 'old-version', 'req', 'auto', 'claude-haiku-4-5', 0, 1, 0, 100, 1024);
            """;
        insert.Parameters.AddWithValue("$id", id);
        insert.ExecuteNonQuery();
    }

    private List<string> TableIntentIds()
    {
        using var connection = _db.OpenIndependentConnection();
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT id FROM ledger_intents ORDER BY id;";
        using var reader = select.ExecuteReader();
        var ids = new List<string>();
        while (reader.Read())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    private LedgerRecord NextRecord()
    {
        var n = ++_next;
        var at = Started.AddMilliseconds(n);
        return new LedgerRecord
        {
            Id = LedgerIds.New(at),
            Timestamp = at,
            RequestId = "req-" + n.ToString(System.Globalization.CultureInfo.InvariantCulture),
            RequestedModel = "auto",
            RoutedModel = "claude-haiku-4-5",
            Status = LedgerStatus.Ok,
            HttpStatus = 200,
            Cost = new CostBreakdown(0.001m, 0m, 0m, 0m, 0m),
        };
    }
}
