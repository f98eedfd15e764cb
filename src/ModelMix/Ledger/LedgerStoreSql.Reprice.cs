using System.Data.Common;
using ModelMix.Pricing;
using ModelMix.Stores;

namespace ModelMix.Ledger;

internal static partial class LedgerStoreSql
{
    /// <summary>The refusal of a reprice whose hours lost raw rows to retention.</summary>
    private const string RepricePruned =
        "Some raw ledger rows of the hours to reprice were pruned (retention): their rollups cannot be recomputed. " +
        "Reprice only hours still within the raw rows' retention (docs/ledger.md, \"Retention\").";

    /// <summary>
    /// The reprice of the whole hours covering [<paramref name="from"/>, <paramref name="to"/>)
    /// (<see cref="ILedgerRollupStore.RepriceAsync"/>), in one write transaction: the rollups locked where the backend
    /// locks them, refused when some raw rows of those hours were pruned; each row <paramref name="price"/> prices gets
    /// that cost (an unpriced row becomes ok), rewritten by its key (id, timestamp); then the hours' rollups are
    /// recomputed from the raw rows. Returns the number of rows repriced.
    /// </summary>
    public static Task<long> RepriceAsync(
        LedgerStoreDialect d, LedgerWriteTransaction<long> write, DateTimeOffset from, DateTimeOffset to, Func<LedgerRecord, CostBreakdown?> price, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(price);
        var fromHour = LedgerRollupReader.FloorHour(from);
        var toHour = LedgerRollupReader.CeilingHour(to);
        return write((connection, transaction) => RepriceAsync(d, connection, transaction, fromHour, toHour, price, cancellationToken), cancellationToken);
    }

    private static async Task<long> RepriceAsync(
        LedgerStoreDialect d, DbConnection connection, DbTransaction transaction, long fromHour, long toHour, Func<LedgerRecord, CostBreakdown?> price, CancellationToken cancellationToken)
    {
        var m = d.Marker;
        if (d.LockRollups is { } lockRollups)
        {
            await using var command = StoreCommands.Create(connection, lockRollups, transaction); // writers wait while the hours are recomputed
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await RequireRawRowsAsync(d, connection, transaction, fromHour, toHour, RepricePruned, cancellationToken);
        var changes = new List<(string Id, long Timestamp, CostBreakdown Cost, LedgerStatus Status)>();
        await using (var select = StoreCommands.Create(
            connection, $"SELECT {SqliteLedgerSchema.SelectColumns} FROM ledger_records WHERE timestamp >= {m}from AND timestamp < {m}to ORDER BY timestamp, seq;", transaction))
        {
            StoreCommands.Add(select, m + "from", fromHour);
            StoreCommands.Add(select, m + "to", toHour);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var record = d.ReadRecord(reader);
                if (price(record) is { } cost)
                {
                    changes.Add((record.Id, reader.GetInt64(1), cost, record.Status == LedgerStatus.Unpriced ? LedgerStatus.Ok : record.Status));
                }
            }
        }

        await using (var update = StoreCommands.Create(
            connection,
            $"UPDATE ledger_records SET cost_input = {m}i, cost_output = {m}o, cost_cache_write_5m = {m}w5, cost_cache_write_1h = {m}w1, " +
            $"cost_cache_read = {m}r, cost_server_tools = {m}st, cost_total = {m}t, status = {m}status WHERE id = {m}id AND timestamp = {m}ts;" /* the key: in PostgreSQL, one partition */,
            transaction))
        {
            foreach (var (id, timestamp, cost, status) in changes)
            {
                cancellationToken.ThrowIfCancellationRequested();
                update.Parameters.Clear();
                (string Name, object Value)[] values =
                [
                    ("i", d.StoredMoney(cost.Input)), ("o", d.StoredMoney(cost.Output)), ("w5", d.StoredMoney(cost.CacheWrite5m)),
                    ("w1", d.StoredMoney(cost.CacheWrite1h)), ("r", d.StoredMoney(cost.CacheRead)), ("st", d.StoredMoney(cost.ServerTools)),
                    ("t", d.StoredMoney(cost.Total)), ("status", SqliteLedgerSchema.ToCode(status)), ("id", id), ("ts", timestamp),
                ];
                foreach (var (name, value) in values)
                {
                    StoreCommands.Add(update, m + name, value);
                }

                await update.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        await d.RecomputeHours(connection, transaction, fromHour, toHour, cancellationToken);
        return changes.Count;
    }
}
