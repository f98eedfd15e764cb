using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// The writer's escalated-request rollup (<see cref="LedgerEscalationRollup"/>, docs/ledger.md, "Rollups") on a real
/// PostgreSQL server: after two replicas write the same requests at once, in shuffled and overlapping batches (a request's
/// escalations straddling hours reach the two writers in any order), the count of every range equals the raw rows'
/// <c>COUNT(DISTINCT request_id)</c> (<see cref="LedgerEscalationOracle"/>), also after a repricing and after the
/// migration's backfill; whole hours are counted without their raw rows.
/// </summary>
public sealed class PostgresLedgerEscalationRollupTests() : PostgresDatabaseTest("escrollup")
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 21, 23, 0, TimeSpan.Zero);

    [Fact]
    public async Task Counts_equal_the_raw_rows_after_two_replicas_write_shuffled_overlapping_batches_a_repricing_and_the_backfill()
    {
        var records = LedgerEscalationOracle.Generate(900, seed: 41, Start);
        var random = new Random(42);
        var shuffled = records.OrderBy(_ => random.Next()).ToList();
        var reversed = Enumerable.Reverse(shuffled).ToList();
        await using var a = new PostgresLedgerStore(ConnectionString);
        await using var b = new PostgresLedgerStore(ConnectionString);
        await a.MigrateAsync();
        await b.MigrateAsync();
        var writeA = Task.Run(async () =>
        {
            for (var i = 0; i < shuffled.Count; i += 120)
            {
                await a.WriteBatchAsync(shuffled[i..Math.Min(i + 120, shuffled.Count)]);
            }
        });
        var writeB = Task.Run(async () =>
        {
            for (var i = 0; i < reversed.Count; i += 90)
            {
                await b.WriteBatchAsync(reversed[i..Math.Min(i + 90, reversed.Count)]);
            }
        });
        await Task.WhenAll(writeA, writeB);
        Assert.True(await LedgerEscalationOracle.AssertAllRangesAsync(a, records, Start) > 30);

        Assert.True(await a.RepriceAsync(Start.AddHours(2), Start.AddHours(5), static r => r.Cost is null ? new CostBreakdown(0.25m, 0.5m, 0m, 0m, 0m) : null) > 0);
        await LedgerEscalationOracle.AssertAllRangesAsync(a, records, Start);

        // The backfill: both tables dropped (and the day versions of step 15), the version at step 13; the migration fills them from the raw rows.
        await ExecuteAsync(
            $"DROP TABLE {LedgerEscalationRollup.HoursTable}; DROP TABLE {LedgerEscalationRollup.SpansTable}; {LedgerDayVersions.Drop(LedgerSqlDialect.Postgres)} " +
            "UPDATE modelmix_schema_versions SET version = 13 WHERE component = 'ledger';");
        await using var reopened = new PostgresLedgerStore(ConnectionString);
        await reopened.MigrateAsync();
        await LedgerEscalationOracle.AssertAllRangesAsync(reopened, records, Start);

        // Without the raw rows (deleted behind the store's back), whole hours count the same.
        var from = new DateTimeOffset(2026, 3, 1, 23, 0, 0, TimeSpan.Zero);
        var expected = LedgerEscalationOracle.Expected(records, from, from.AddHours(5));
        Assert.True(expected > 50, $"{expected} escalated requests");
        await ExecuteAsync("DELETE FROM ledger_records;");
        Assert.Equal(expected, await reopened.CountEscalatedRequestsAsync(from, from.AddHours(5)));
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
