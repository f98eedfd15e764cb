using System.Data.Common;
using ModelMix.Pricing;
using ModelMix.Stores;

namespace ModelMix.Ledger;

internal static partial class LedgerStoreSql
{
    /// <summary>
    /// The correction of estimated records (<see cref="ILedgerCorrections.CorrectEstimatesAsync"/>), in one write
    /// transaction: each record still estimated is read (locked where the backend locks rows), repriced with its
    /// reported usage and rewritten by its key (id, timestamp); then the rollups of every hour touched are recomputed
    /// from the raw rows, refused when some of those rows were pruned.
    /// </summary>
    public static Task<int> CorrectEstimatesAsync(
        LedgerStoreDialect d,
        LedgerWriteTransaction<int> write,
        IReadOnlyList<(string Id, TokenUsage Usage)> corrections,
        Func<LedgerRecord, CostBreakdown?> price,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(corrections);
        ArgumentNullException.ThrowIfNull(price);
        if (corrections.Count == 0)
        {
            return Task.FromResult(0);
        }

        return write((connection, transaction) => CorrectAsync(d, connection, transaction, corrections, price, cancellationToken), cancellationToken);
    }

    private static async Task<int> CorrectAsync(
        LedgerStoreDialect d,
        DbConnection connection,
        DbTransaction transaction,
        IReadOnlyList<(string Id, TokenUsage Usage)> corrections,
        Func<LedgerRecord, CostBreakdown?> price,
        CancellationToken cancellationToken)
    {
        var m = d.Marker;
        if (d.LockRollups is { } lockRollups)
        {
            await using var command = StoreCommands.Create(connection, lockRollups, transaction);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        var estimated = d.Sql.IsTrue("usage_estimated");
        await using var select = StoreCommands.Create(
            connection, $"SELECT {SqliteLedgerSchema.SelectColumns} FROM ledger_records WHERE id = {m}id AND {estimated}{d.ForUpdate};", transaction);
        await using var update = StoreCommands.Create(
            connection,
            "UPDATE ledger_records SET " + LedgerRowSql.CorrectionSet(m, d.False) +
            $" WHERE id = {m}id AND timestamp = {m}ts AND {estimated};" /* the key (id, timestamp): in PostgreSQL, one partition */,
            transaction);
        var hours = new SortedSet<long>();
        var corrected = 0;
        foreach (var (recordId, usage) in corrections)
        {
            cancellationToken.ThrowIfCancellationRequested();
            select.Parameters.Clear();
            StoreCommands.Add(select, m + "id", recordId);
            LedgerRecord stored;
            long timestamp;
            await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
            {
                if (!await reader.ReadAsync(cancellationToken))
                {
                    continue; // not stored, or corrected already
                }

                stored = d.ReadRecord(reader);
                timestamp = reader.GetInt64(1);
            }

            var cost = price(stored with { Usage = usage, UsageEstimated = false, Cost = null });
            update.Parameters.Clear();
            (string Name, object? Value)[] values =
            [
                ("i", usage.InputTokens), ("o", usage.OutputTokens), ("w5", usage.CacheWrite5mTokens), ("w1", usage.CacheWrite1hTokens),
                ("r", usage.CacheReadTokens), ("tier", SqliteLedgerSchema.ToCode(usage.ServiceTier)), ("speed", SqliteLedgerSchema.ToCode(usage.Speed)),
                ("geo", usage.InferenceGeo), ("ws", usage.WebSearchRequests), ("wf", usage.WebFetchRequests),
                ("ci", Money(d, cost?.Input)), ("co", Money(d, cost?.Output)), ("cw5", Money(d, cost?.CacheWrite5m)),
                ("cw1", Money(d, cost?.CacheWrite1h)), ("cr", Money(d, cost?.CacheRead)), ("cst", Money(d, cost?.ServerTools)),
                ("ct", Money(d, cost?.Total)), ("id", recordId), ("ts", timestamp),
            ];
            foreach (var (name, value) in values)
            {
                StoreCommands.Add(update, m + name, value);
            }

            corrected += await update.ExecuteNonQueryAsync(cancellationToken);
            hours.Add(LedgerRollupReader.FloorHour(stored.Timestamp));
        }

        foreach (var hour in hours)
        {
            await RequireRawRowsAsync(d, connection, transaction, hour, hour + LedgerRollupSql.HourTicks, CorrectionPruned, cancellationToken);
            await d.RecomputeHours(connection, transaction, hour, hour + LedgerRollupSql.HourTicks, cancellationToken);
        }

        return corrected;
    }

    /// <summary>The refusal of a correction whose hour lost raw rows to retention.</summary>
    private const string CorrectionPruned = "Some raw ledger rows of the hour to correct were pruned (retention): its rollups cannot be recomputed.";

    /// <summary>
    /// Refuses (<see cref="InvalidOperationException"/> with <paramref name="refusal"/>) to recompute hours whose raw rows
    /// were pruned (the rollups count more calls than the raw rows hold).
    /// </summary>
    private static async Task RequireRawRowsAsync(
        LedgerStoreDialect d, DbConnection connection, DbTransaction transaction, long fromHour, long toHour, string refusal, CancellationToken cancellationToken)
    {
        var m = d.Marker;
        await using var command = StoreCommands.Create(
            connection,
            $"SELECT (SELECT {d.Sql.IntegerSum("calls")} FROM {LedgerRollupSql.Table} WHERE hour >= {m}from AND hour < {m}to), " +
            $"(SELECT COUNT(*) FROM ledger_records WHERE timestamp >= {m}from AND timestamp < {m}to);",
            transaction);
        StoreCommands.Add(command, m + "from", fromHour);
        StoreCommands.Add(command, m + "to", toHour);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        if (reader.GetInt64(0) != reader.GetInt64(1))
        {
            throw new InvalidOperationException(refusal);
        }
    }

    /// <summary>A money parameter's value: the backend's stored form, or NULL (unpriced).</summary>
    private static object? Money(LedgerStoreDialect d, decimal? value) => value is { } money ? d.StoredMoney(money) : null;
}
