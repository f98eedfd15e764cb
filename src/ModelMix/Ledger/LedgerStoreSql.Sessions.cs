using System.Data.Common;
using System.Runtime.CompilerServices;
using ModelMix.Stores;

namespace ModelMix.Ledger;

internal static partial class LedgerStoreSql
{
    /// <summary>
    /// Each (key, session)'s calls of a range summed (<see cref="ILedgerRollupStore.ReadSessionSummariesAsync"/>): from the
    /// writer's per-session hourly sums (<see cref="LedgerRollupSql.SessionTable"/>) when they can stand for the range's raw
    /// rows (<see cref="LedgerRollupSql.SessionHoursCoverAsync"/>), else from the raw rows.
    /// </summary>
    public static async IAsyncEnumerable<LedgerSessionSummary> ReadSessionSummariesAsync(
        LedgerStoreDialect d, Func<CancellationToken, Task<DbConnection>> open, DateTimeOffset? from, DateTimeOffset? to, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        var m = d.Marker;
        await using var connection = await open(cancellationToken);
        d.AddSumFunctions?.Invoke(connection); // the exact decimal sum of cost text (SQLite)
        await using var command = CreateAggregateCommand(d, connection); // one aggregate: the first row comes at the end
        if (await LedgerRollupSql.SessionHoursCoverAsync(from, to, async hour =>
        {
            await using var last = StoreCommands.Create(connection, LedgerRollupSql.SessionHourLastSql(m), m + "hour", hour);
            return (long)(await last.ExecuteScalarAsync(cancellationToken))!;
        }))
        {
            // Whole hours from the writer's per-session sums (LedgerRollupSql.SessionTable): no raw rows.
            command.CommandText = LedgerRollupSql.SessionSummariesSql(d.Sql, m, from is not null, to is not null);
            if (from is { } f)
            {
                StoreCommands.Add(command, m + "from", LedgerRollupReader.FloorHour(f));
            }

            if (to is { } t)
            {
                StoreCommands.Add(command, m + "to", LedgerRollupReader.CeilingHour(t));
            }
        }
        else
        {
            command.CommandText = LedgerRollupReader.SessionSummariesSql(m, from is not null, to is not null, d.Sql.MoneySum);
            AddRange(command, m, from, to);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new LedgerSessionSummary(
                reader.IsDBNull(0) || reader.GetString(0).Length == 0 ? null : reader.GetString(0), reader.GetString(1),
                SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(2)), SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(3)),
                d.ReadMoney(reader, 4), reader.GetInt64(5));
        }
    }

    /// <summary>
    /// Per task, the 95th percentile latency of its first attempts in a range, from the raw rows
    /// (<see cref="ILedgerRollupStore.ReadFirstAttemptP95LatencyAsync"/>, <see cref="LedgerRollupReader.FirstAttemptP95Sql"/>).
    /// </summary>
    public static IAsyncEnumerable<LedgerTaskLatency> ReadFirstAttemptP95LatencyAsync(
        LedgerStoreDialect d, Func<CancellationToken, Task<DbConnection>> open, DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken) =>
        ReadRangeAsync(
            d,
            open,
            new(from, to, LedgerRollupReader.FirstAttemptP95Sql, Aggregate: true), // one aggregate over the range's raw rows
            static (_, reader) => new LedgerTaskLatency(reader.GetString(0), reader.GetInt64(1)),
            cancellationToken);
}
