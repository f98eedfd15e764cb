using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// Effort and dropped thinking in the SQLite ledger (schema step 3): exact round trip, how they are stored, and a
/// database at the previous version upgraded in place with its old rows read as no effort / none dropped.
/// </summary>
public sealed class SqliteLedgerEffortTests : IDisposable
{
    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task Effort_default_flag_and_dropped_thinking_round_trip_exactly()
    {
        LedgerRecord[] records =
        [
            LedgerRecords.Simple(1) with { Effort = "high" },
            LedgerRecords.Simple(2) with { Effort = "medium", EffortIsDefault = true, ThinkingBlocksDropped = 1 },
            LedgerRecords.Simple(3) with { Effort = null, EffortIsDefault = true, ThinkingBlocksDropped = int.MaxValue },
            LedgerRecords.Simple(4),
        ];

        await using (var store = new SqliteLedgerStore(_db.FilePath))
        {
            await store.MigrateAsync();
            await store.WriteBatchAsync(records);
        }

        await using var reopened = new SqliteLedgerStore(_db.FilePath);
        await reopened.MigrateAsync();
        var read = await ReadAllAsync(reopened);

        Assert.Equal(records, read);
        Assert.Equal(
            [("high", false, 0), ("medium", true, 1), (null, true, int.MaxValue), (null, false, 0)],
            read.Select(r => (r.Effort, r.EffortIsDefault, r.ThinkingBlocksDropped)));

        using var connection = _db.OpenIndependentConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT typeof(effort), effort, typeof(effort_is_default), effort_is_default, thinking_blocks_dropped FROM ledger_records ORDER BY seq;";
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal(("text", "high", "integer", 0L, 0L), (reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.GetInt64(4)));
        Assert.True(reader.Read());
        Assert.Equal((1L, 1L), (reader.GetInt64(3), reader.GetInt64(4)));
        Assert.True(reader.Read());
        Assert.Equal("null", reader.GetString(0));
    }

    [Fact]
    public async Task A_database_at_the_previous_version_is_upgraded_and_its_old_rows_read_as_no_effort()
    {
        // The database an older ModelMix wrote: every migration before the effort step (3), then one row in the old
        // column list; it is upgraded through every later step.
        const int previous = 2;
        using (var connection = _db.OpenIndependentConnection())
        {
            using var command = connection.CreateCommand();
            command.CommandText = string.Join("\n", SqliteLedgerSchema.Migrations.Take(previous)) + $"\nPRAGMA user_version = {previous};" +
                """
                INSERT INTO ledger_records (
                    id, timestamp, request_id, requested_model, routed_model, attempt,
                    input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, service_tier, speed,
                    cost_input, cost_output, cost_cache_write_5m, cost_cache_write_1h, cost_cache_read, cost_total,
                    latency_ms, streaming, status, http_status)
                VALUES ('old-1', 17699040000000000, 'req-old', 'claude-sonnet-4-5', 'claude-haiku-4-5', 1,
                    11, 3, 0, 0, 5, 'standard', 'standard',
                    '0.0000011', '0', '0', '0', '0', '0.0000011',
                    42, 0, 'ok', 200);
                """;
            command.ExecuteNonQuery();
            command.CommandText = "SELECT COUNT(*) FROM pragma_table_info('ledger_records') WHERE name = 'effort';";
            Assert.Equal(0L, (long)command.ExecuteScalar()!);
        }

        await using (var store = new SqliteLedgerStore(_db.FilePath))
        {
            await store.MigrateAsync();
            await store.WriteBatchAsync([LedgerRecords.Simple(7) with { Effort = "low", ThinkingBlocksDropped = 2 }]);
            var read = await ReadAllAsync(store);

            Assert.Equal(["old-1", "rec-00000007"], read.Select(r => r.Id));
            var old = read[0];
            Assert.Equal((null, false, 0), (old.Effort, old.EffortIsDefault, old.ThinkingBlocksDropped));
            Assert.Equal((11L, 3L, 5L, 0.0000011m), (old.Usage.InputTokens, old.Usage.OutputTokens, old.Usage.CacheReadTokens, old.Cost!.Value.Total));
            Assert.Equal(("low", false, 2), (read[1].Effort, read[1].EffortIsDefault, read[1].ThinkingBlocksDropped));
        }

        using var check = _db.OpenIndependentConnection();
        using var version = check.CreateCommand();
        version.CommandText = "PRAGMA user_version;";
        Assert.Equal((long)SqliteLedgerStore.SchemaVersion, (long)version.ExecuteScalar()!);
        Assert.Equal(SqliteLedgerSchema.LatestVersion, SqliteLedgerStore.SchemaVersion);
    }

    private static async Task<List<LedgerRecord>> ReadAllAsync(SqliteLedgerStore store)
    {
        var list = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            list.Add(record);
        }

        return list;
    }
}
