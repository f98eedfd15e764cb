using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// The writer's per-session hourly sums (<c>ledger_session_hours</c>, docs/ledger.md, "Rollups") on a real PostgreSQL
/// server: after two replicas write overlapping batches with replays, the per-session summaries read from them equal the
/// raw rows regrouped here (<see cref="LedgerSessionOracle"/>) to the last digit, and a window from an hour reads no raw rows.
/// (The backfill and a repricing: <see cref="PostgresLedgerRollupTests"/>.)
/// </summary>
public sealed class PostgresLedgerSessionHourTests() : PostgresDatabaseTest("sessionhours")
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 22, 17, 0, TimeSpan.Zero);

    [Fact]
    public async Task Session_sums_equal_the_raw_rows_after_two_replicas_write_overlapping_batches()
    {
        var records = LedgerTraffic.Generate(2_000, seed: 17, T0, TimeSpan.FromMinutes(1));
        await using var a = new PostgresLedgerStore(ConnectionString);
        await using var b = new PostgresLedgerStore(ConnectionString);
        await a.MigrateAsync();
        await b.MigrateAsync();
        var writeA = Task.Run(async () =>
        {
            for (var i = 0; i < records.Length; i += 200)
            {
                await a.WriteBatchAsync(records[i..(i + 200)]);
            }
        });
        var writeB = Task.Run(async () =>
        {
            for (var i = 0; i < records.Length; i += 150)
            {
                await b.WriteBatchAsync(records[i..Math.Min(i + 150, records.Length)]);
                await b.WriteBatchAsync(records[(i / 2)..(i / 2 + 50)]);
            }
        });
        await Task.WhenAll(writeA, writeB);

        var expected = LedgerSessionOracle.Expected(records);
        Assert.True(expected.Count > 100, $"{expected.Count} sessions");
        Assert.Equal(expected, await LedgerSessionOracle.ReadAsync(a));
        var from = new DateTimeOffset(2026, 3, 2, 3, 0, 0, TimeSpan.Zero);
        var end = records[^1].Timestamp.AddTicks(1);
        var window = LedgerSessionOracle.Expected(records, from, end);
        Assert.Equal(window, await LedgerSessionOracle.ReadAsync(a, from, end));

        // Without the raw rows (deleted behind the store's back), a window from an hour reads the same; one from inside an
        // hour reads the (now empty) raw rows.
        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            await using var delete = new NpgsqlCommand("DELETE FROM ledger_records;", connection);
            await delete.ExecuteNonQueryAsync();
        }

        Assert.Equal(window, await LedgerSessionOracle.ReadAsync(a, from, end));
        Assert.Empty(await LedgerSessionOracle.ReadAsync(a, from.AddMinutes(1), end));
    }
}
