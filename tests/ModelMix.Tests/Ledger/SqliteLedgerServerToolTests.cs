using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// Server-tool uses and fees in the SQLite ledger (schema step 4): the counts and the fee round-trip exactly and are
/// totalled, and a database at the previous version is upgraded in place with its old rows read as no use, no fee.
/// </summary>
public sealed class SqliteLedgerServerToolTests : IDisposable
{
    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task Server_tool_counts_and_fees_round_trip_exactly_and_are_totalled()
    {
        // 1,000 searches on Haiku 4.5: 0.001 input + 0.0025 output + 1000 * 0.01 = 10 in fees; total 10.0035.
        LedgerRecord[] records =
        [
            LedgerRecords.Simple(1) with
            {
                Usage = new TokenUsage(1000, 500, WebSearchRequests: 1000, WebFetchRequests: 2),
                Cost = new CostBreakdown(0.001m, 0.0025m, 0m, 0m, 0m, 10m),
            },
            LedgerRecords.Simple(2), // no server tool: 0.0000011 of input, no fee
            LedgerRecords.Simple(3) with { Usage = new TokenUsage(5, 5, WebSearchRequests: 3), Cost = null, Status = LedgerStatus.Unpriced },
        ];

        await using (var store = new SqliteLedgerStore(_db.FilePath))
        {
            await store.MigrateAsync();
            await store.WriteBatchAsync(records);
        }

        await using var reopened = new SqliteLedgerStore(_db.FilePath);
        await reopened.MigrateAsync();
        var read = new List<LedgerRecord>();
        await foreach (var record in reopened.ReadAsync(LedgerQuery.All))
        {
            read.Add(record);
        }

        Assert.Equal(records, read);
        Assert.Equal(10.0035m, read[0].Cost!.Value.Total);

        var totals = await reopened.GetTotalsAsync(LedgerQuery.All);
        Assert.Equal((1003L, 2L), (totals.WebSearchRequests, totals.WebFetchRequests)); // 1000 + 0 + 3 searches, unpriced included
        Assert.Equal(10m, totals.Cost.ServerTools);
        Assert.Equal(10.0035011m, totals.TotalCost); // 10.0035 + 0.0000011

        using var connection = _db.OpenIndependentConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT web_search_requests, web_fetch_requests, cost_server_tools, cost_total FROM ledger_records ORDER BY seq;";
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal((1000L, 2L, "10", "10.0035"), (reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3)));
        Assert.True(reader.Read());
        Assert.Equal("0", reader.GetString(2));
        Assert.True(reader.Read());
        Assert.True(reader.IsDBNull(2)); // unpriced: no fee either
    }

    [Fact]
    public async Task A_database_at_the_previous_version_is_upgraded_and_its_old_rows_read_as_no_server_tool_use()
    {
        // The database an older ModelMix wrote: every migration but the last, then one row in the old column list.
        const int previous = 3; // the version before step 4 (server tools)
        using (var connection = _db.OpenIndependentConnection())
        {
            using var command = connection.CreateCommand();
            command.CommandText = string.Join("\n", SqliteLedgerSchema.Migrations.Take(previous)) + $"\nPRAGMA user_version = {previous};" +
                """
                INSERT INTO ledger_records (
                    id, timestamp, request_id, requested_model, routed_model, attempt,
                    input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, service_tier, speed,
                    cost_input, cost_output, cost_cache_write_5m, cost_cache_write_1h, cost_cache_read, cost_total,
                    latency_ms, streaming, status, http_status, effort)
                VALUES ('old-1', 17699040000000000, 'req-old', 'claude-sonnet-4-5', 'claude-haiku-4-5', 1,
                    11, 3, 0, 0, 5, 'standard', 'standard',
                    '0.0000011', '0', '0', '0', '0', '0.0000011',
                    42, 0, 'ok', 200, 'high');
                """;
            command.ExecuteNonQuery();
            command.CommandText = "SELECT COUNT(*) FROM pragma_table_info('ledger_records') WHERE name = 'web_search_requests';";
            Assert.Equal(0L, (long)command.ExecuteScalar()!);
        }

        await using (var store = new SqliteLedgerStore(_db.FilePath))
        {
            await store.MigrateAsync();
            await store.WriteBatchAsync([LedgerRecords.Simple(7) with
            {
                Usage = new TokenUsage(11, 3, WebSearchRequests: 2),
                Cost = new CostBreakdown(0.0000011m, 0m, 0m, 0m, 0m, 0.02m),
            }]);
            var read = new List<LedgerRecord>();
            await foreach (var record in store.ReadAsync(LedgerQuery.All))
            {
                read.Add(record);
            }

            Assert.Equal(["old-1", "rec-00000007"], read.Select(r => r.Id));
            var old = read[0];
            Assert.Equal((0L, 0L, 0m), (old.Usage.WebSearchRequests, old.Usage.WebFetchRequests, old.Cost!.Value.ServerTools));
            Assert.Equal((0.0000011m, "high"), (old.Cost!.Value.Total, old.Effort));
            Assert.Equal((2L, 0.0200011m), (read[1].Usage.WebSearchRequests, read[1].Cost!.Value.Total));
            var totals = await store.GetTotalsAsync(LedgerQuery.All);
            Assert.Equal((2L, 0.02m, 0.0200022m), (totals.WebSearchRequests, totals.Cost.ServerTools, totals.TotalCost));
        }

        using var check = _db.OpenIndependentConnection();
        using var version = check.CreateCommand();
        version.CommandText = "PRAGMA user_version;";
        Assert.Equal((long)SqliteLedgerStore.SchemaVersion, (long)version.ExecuteScalar()!);
        Assert.Equal(SqliteLedgerSchema.LatestVersion, SqliteLedgerStore.SchemaVersion);
    }
}
