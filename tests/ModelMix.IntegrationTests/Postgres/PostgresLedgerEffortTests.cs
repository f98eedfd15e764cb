using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// Effort and dropped thinking in the PostgreSQL ledger (ledger step 2) on a real server: exact round trip through
/// the binary COPY path, and a database at the previous ledger version upgraded in place, its old rows read as no
/// effort / none dropped.
/// </summary>
public sealed class PostgresLedgerEffortTests() : PostgresLedgerColumnTest("effort")
{
    [Fact]
    public async Task Effort_default_flag_and_dropped_thinking_round_trip_exactly()
    {
        LedgerRecord[] records =
        [
            Record("e1", 1) with { Effort = "high" },
            Record("e2", 2) with { Effort = "medium", EffortIsDefault = true, ThinkingBlocksDropped = 1 },
            Record("e3", 3) with { Effort = null, EffortIsDefault = true, ThinkingBlocksDropped = int.MaxValue },
            Record("e4", 4),
        ];

        await using (var store = new PostgresLedgerStore(ConnectionString))
        {
            await store.MigrateAsync();
            await store.WriteBatchAsync(records);
            await store.WriteBatchAsync(records); // a replay is skipped, new columns and all
        }

        await using var reopened = new PostgresLedgerStore(ConnectionString);
        await reopened.MigrateAsync();
        var read = await ReadAllAsync(reopened);

        Assert.Equal(records, read);
        Assert.Equal(
            [("high", false, 0), ("medium", true, 1), (null, true, int.MaxValue), (null, false, 0)],
            read.Select(r => (r.Effort, r.EffortIsDefault, r.ThinkingBlocksDropped)));
        Assert.Equal(
            ["text", "boolean", "integer"],
            await ColumnTypesAsync("effort", "effort_is_default", "thinking_blocks_dropped"));
    }

    [Fact]
    public async Task A_database_at_the_previous_version_is_upgraded_and_its_old_rows_read_as_no_effort()
    {
        // The database an older ModelMix wrote: every ledger step before the effort step (2), its version, then one row
        // in the old columns; it is upgraded through every later step.
        const int previous = 1; // the version before step 2 (effort)
        await CreateAtVersionAsync(
            previous,
            """
            INSERT INTO ledger_records (
                id, timestamp, request_id, requested_model, routed_model, attempt,
                input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, service_tier, speed,
                cost_input, cost_output, cost_cache_write_5m, cost_cache_write_1h, cost_cache_read, cost_total,
                latency_ms, streaming, status, http_status)
            VALUES ('old-1', 17699040000000000, 'req-old', 'claude-sonnet-4-5', 'claude-haiku-4-5', 1,
                11, 3, 0, 0, 5, 'standard', 'standard',
                0.0000011, 0, 0, 0, 0, 0.0000011,
                42, false, 'ok', 200);
            """);
        Assert.Empty(await ColumnTypesAsync("effort"));

        await using (var store = new PostgresLedgerStore(ConnectionString))
        {
            await store.MigrateAsync();
            await store.WriteBatchAsync([Record("new-1", 1) with { Effort = "low", ThinkingBlocksDropped = 2 }]);
            var read = await ReadAllAsync(store);

            Assert.Equal(["old-1", "new-1"], read.Select(r => r.Id));
            var old = read[0];
            Assert.Equal((null, false, 0), (old.Effort, old.EffortIsDefault, old.ThinkingBlocksDropped));
            Assert.Equal((11L, 3L, 5L, 0.0000011m), (old.Usage.InputTokens, old.Usage.OutputTokens, old.Usage.CacheReadTokens, old.Cost!.Value.Total));
            Assert.Equal(("low", false, 2), (read[1].Effort, read[1].EffortIsDefault, read[1].ThinkingBlocksDropped));
        }

        await AssertCurrentVersionAsync();
    }

    private async Task<List<string>> ColumnTypesAsync(params string[] columns)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        var types = new List<string>();
        foreach (var column in columns)
        {
            await using var command = new NpgsqlCommand(
                "SELECT data_type FROM information_schema.columns WHERE table_name = 'ledger_records' AND column_name = $1;", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = column });
            if (await command.ExecuteScalarAsync() is string type)
            {
                types.Add(type);
            }
        }

        return types;
    }
}
