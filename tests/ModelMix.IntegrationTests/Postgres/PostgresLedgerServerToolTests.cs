using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// Server-tool uses and fees in the PostgreSQL ledger (ledger step 3) on a real server: exact round trip through the
/// binary COPY path and the totals, and a database at the previous ledger version upgraded in place, its old rows read
/// as no use and no fee.
/// </summary>
public sealed class PostgresLedgerServerToolTests() : PostgresLedgerColumnTest("servertools")
{
    [Fact]
    public async Task Server_tool_counts_and_fees_round_trip_exactly_and_are_totalled()
    {
        // 1,000 searches on Haiku 4.5: 1000*1 = 0.001 input, 500*5 = 0.0025 output, 1000 * 0.01 = 10 in fees.
        LedgerRecord[] records =
        [
            Record("s1", 1) with
            {
                Usage = new TokenUsage(1000, 500, WebSearchRequests: 1000, WebFetchRequests: 2),
                Cost = new CostBreakdown(0.001m, 0.0025m, 0m, 0m, 0m, 10m),
            },
            Record("s2", 2),
            Record("s3", 3) with { Usage = new TokenUsage(5, 5, WebSearchRequests: 3), Cost = null, Status = LedgerStatus.Unpriced },
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
        var totals = await reopened.GetTotalsAsync(LedgerQuery.All);
        Assert.Equal((1003L, 2L), (totals.WebSearchRequests, totals.WebFetchRequests));
        // 10.0035 + (0.006 + 0.0085 + 0.002 = 0.0165) = 10.02; the unpriced record adds no cost.
        Assert.Equal((10m, 10.02m), (totals.Cost.ServerTools, totals.TotalCost));
    }

    [Fact]
    public async Task A_database_at_the_previous_version_is_upgraded_and_its_old_rows_read_as_no_server_tool_use()
    {
        // The database an older ModelMix wrote: every ledger step but the last, its version, then one row in the old columns.
        const int previous = 2; // the version before step 3 (server tools)
        await CreateAtVersionAsync(
            previous,
            """
            INSERT INTO ledger_records (
                id, timestamp, request_id, requested_model, routed_model, attempt,
                input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, service_tier, speed,
                cost_input, cost_output, cost_cache_write_5m, cost_cache_write_1h, cost_cache_read, cost_total,
                latency_ms, streaming, status, http_status, effort)
            VALUES ('old-1', 17699040000000000, 'req-old', 'claude-sonnet-4-5', 'claude-haiku-4-5', 1,
                11, 3, 0, 0, 5, 'standard', 'standard',
                0.0000011, 0, 0, 0, 0, 0.0000011,
                42, false, 'ok', 200, 'high');
            """);

        await using (var store = new PostgresLedgerStore(ConnectionString))
        {
            await store.MigrateAsync();
            await store.WriteBatchAsync([Record("new-1", 1) with
            {
                Usage = new TokenUsage(11, 3, WebSearchRequests: 2),
                Cost = new CostBreakdown(0.0000011m, 0m, 0m, 0m, 0m, 0.02m),
            }]);
            var read = await ReadAllAsync(store);

            Assert.Equal(["old-1", "new-1"], read.Select(r => r.Id));
            var old = read[0];
            Assert.Equal((0L, 0L, 0m, 0.0000011m, "high"), (old.Usage.WebSearchRequests, old.Usage.WebFetchRequests, old.Cost!.Value.ServerTools, old.Cost!.Value.Total, old.Effort));
            Assert.Equal((2L, 0.0200011m), (read[1].Usage.WebSearchRequests, read[1].Cost!.Value.Total));
        }

        await AssertCurrentVersionAsync();
    }
}
