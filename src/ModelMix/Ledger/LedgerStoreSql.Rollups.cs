using System.Data.Common;
using System.Runtime.CompilerServices;
using ModelMix.Stores;

namespace ModelMix.Ledger;

internal static partial class LedgerStoreSql
{
    /// <summary>
    /// The versions of the days in [<paramref name="from"/>, <paramref name="to"/>) (<see cref="ILedgerDayVersions"/>,
    /// read by the dashboard's day cache before it trusts a cached day).
    /// </summary>
    public static async Task<IReadOnlyDictionary<DateTimeOffset, long>> ReadDayVersionsAsync(
        LedgerStoreDialect d, Func<CancellationToken, Task<DbConnection>> open, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        await using var connection = await open(cancellationToken);
        return await LedgerDayVersions.ReadAsync(connection, d.Marker, from, to, cancellationToken);
    }

    /// <summary>
    /// The hourly rollups (<see cref="ILedgerRollupStore.ReadRollupsAsync"/>), or with <paramref name="daily"/> the daily ones
    /// (<see cref="ILedgerRollupStore.ReadDailyRollupsAsync"/>), of the hours (days) that overlap the range, in order.
    /// </summary>
    public static async IAsyncEnumerable<LedgerRollup> ReadRollupsAsync(
        LedgerStoreDialect d, Func<CancellationToken, Task<DbConnection>> open, DateTimeOffset? from, DateTimeOffset? to, bool daily, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        var m = d.Marker;
        await using var connection = await open(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = LedgerRollupReader.SelectSql(m, from is not null, to is not null, daily);
        if (from is { } f)
        {
            StoreCommands.Add(command, m + "from", daily ? LedgerRollupReader.FloorDay(f) : LedgerRollupReader.FloorHour(f));
        }

        if (to is { } t)
        {
            StoreCommands.Add(command, m + "to", daily ? LedgerRollupReader.CeilingDay(t) : LedgerRollupReader.CeilingHour(t));
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return LedgerRollupReader.Read(reader, d.ReadMoney);
        }
    }

    /// <summary>The calls of a range in (timestamp, seq) order, as the audit's session and escalation counts read them (<see cref="ILedgerRollupStore.ReadCallSummariesAsync"/>).</summary>
    public static IAsyncEnumerable<LedgerCallSummary> ReadCallSummariesAsync(
        LedgerStoreDialect d, Func<CancellationToken, Task<DbConnection>> open, DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken) =>
        ReadRangeAsync(
            d,
            open,
            new(from, to, LedgerRollupReader.CallSummariesSql, Aggregate: false),
            static (dialect, reader) => new LedgerCallSummary(
                reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(2)),
                reader.IsDBNull(3) ? 0m : dialect.ReadMoney(reader, 3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt32(5), dialect.ReadFlag(reader, 6), reader.GetInt64(7)),
            cancellationToken);

    /// <summary>The escalated requests of a range (<see cref="ILedgerRollupStore.CountEscalatedRequestsAsync"/>, <see cref="LedgerEscalationRollup"/>).</summary>
    public static async Task<long> CountEscalatedRequestsAsync(
        LedgerStoreDialect d, Func<CancellationToken, Task<DbConnection>> open, DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        await using var connection = await open(cancellationToken);
        await using var command = CreateAggregateCommand(d, connection); // a count over the range (in PostgreSQL an index-only scan)

        // The writer's per-hour counts, the multi-hour requests and the partial hours' raw rows, in one statement (one snapshot).
        return await LedgerEscalationRollup.CountAsync(command, d.Marker, d.Sql, from, to, cancellationToken);
    }

    /// <summary>The latest <paramref name="count"/> records of a range, newest first (<see cref="ILedgerRollupStore.ReadLatestAsync"/>).</summary>
    public static IAsyncEnumerable<LedgerRecord> ReadLatestAsync(
        LedgerStoreDialect d, Func<CancellationToken, Task<DbConnection>> open, DateTimeOffset? from, DateTimeOffset? to, int count, CancellationToken cancellationToken) =>
        ReadRangeAsync(d, open, new(from, to, LedgerRollupReader.LatestSql, Aggregate: false, Count: count), static (dialect, reader) => dialect.ReadRecord(reader), cancellationToken);

    /// <summary>
    /// Reads the rows of a query over the raw rows of a range (<see cref="RangeRead"/>), each mapped by
    /// <paramref name="row"/>: the readers of the call summaries, the latest records and the latency percentiles.
    /// </summary>
    private static async IAsyncEnumerable<T> ReadRangeAsync<T>(
        LedgerStoreDialect d,
        Func<CancellationToken, Task<DbConnection>> open,
        RangeRead read,
        Func<LedgerStoreDialect, DbDataReader, T> row,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        var m = d.Marker;
        await using var connection = await open(cancellationToken);
        await using var command = read.Aggregate ? CreateAggregateCommand(d, connection) : connection.CreateCommand();
        command.CommandText = read.Sql(m, read.From is not null, read.To is not null);
        AddRange(command, m, read.From, read.To);
        if (read.Count is { } count)
        {
            StoreCommands.Add(command, m + "count", count);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return row(d, reader);
        }
    }

    /// <summary>
    /// A query over the raw rows of [<paramref name="From"/>, <paramref name="To"/>) (null: no bound): its SQL by parameter
    /// marker and bounds given (<see cref="LedgerRollupReader"/>), whether it aggregates the range before its first row
    /// (<see cref="LedgerStoreDialect.AggregateTimeout"/>), and the row count bound as <c>count</c> when it takes one.
    /// </summary>
    private readonly record struct RangeRead(DateTimeOffset? From, DateTimeOffset? To, Func<char, bool, bool, string> Sql, bool Aggregate, int? Count = null);

    /// <summary>A command for one aggregate over a range's rows, with the dialect's timeout for such reads (<see cref="LedgerStoreDialect.AggregateTimeout"/>).</summary>
    private static DbCommand CreateAggregateCommand(LedgerStoreDialect d, DbConnection connection)
    {
        var command = connection.CreateCommand();
        if (d.AggregateTimeout is { } timeout)
        {
            command.CommandTimeout = timeout;
        }

        return command;
    }

    /// <summary>The raw rows' range [from, to) as stored timestamps, the parameters from / to.</summary>
    private static void AddRange(DbCommand command, char m, DateTimeOffset? from, DateTimeOffset? to)
    {
        if (from is { } f)
        {
            StoreCommands.Add(command, m + "from", SqliteLedgerSchema.ToStoredTimestamp(f));
        }

        if (to is { } t)
        {
            StoreCommands.Add(command, m + "to", SqliteLedgerSchema.ToStoredTimestamp(t));
        }
    }
}
