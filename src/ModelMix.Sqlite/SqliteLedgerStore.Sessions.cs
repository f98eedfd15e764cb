using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace ModelMix.Ledger;

public sealed partial class SqliteLedgerStore
{
    /// <inheritdoc />
    public async IAsyncEnumerable<LedgerSessionSummary> ReadSessionSummariesAsync(
        DateTimeOffset? from, DateTimeOffset? to, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        EnsureReadable();
        await using var connection = await OpenReaderAsync(cancellationToken);
        SqliteLedgerRollups.RegisterFunctions(connection); // the exact decimal sum of cost text
        await using var command = connection.CreateCommand();
        if (await LedgerRollupSql.SessionHoursCoverAsync(from, to, async hour =>
        {
            await using var last = connection.CreateCommand();
            last.CommandText = LedgerRollupSql.SessionHourLastSql('$');
            last.Parameters.AddWithValue("$hour", hour);
            return (long)(await last.ExecuteScalarAsync(cancellationToken))!;
        }))
        {
            // Whole hours from the writer's per-session sums (LedgerRollupSql.SessionTable): no raw rows.
            command.CommandText = LedgerRollupSql.SessionSummariesSql(LedgerSqlDialect.Sqlite, '$', from is not null, to is not null);
            AddHourRange(command, from, to);
        }
        else
        {
            command.CommandText = LedgerRollupReader.SessionSummariesSql('$', from is not null, to is not null, static c => $"{SqliteLedgerRollups.DecimalSumFunction}({c})");
            AddRange(command, from, to);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new LedgerSessionSummary(
                reader.IsDBNull(0) || reader.GetString(0).Length == 0 ? null : reader.GetString(0), reader.GetString(1),
                SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(2)), SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(3)),
                SqliteLedgerSchema.FromStoredDecimal(reader.GetString(4)), reader.GetInt64(5));
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<LedgerTaskLatency> ReadFirstAttemptP95LatencyAsync(
        DateTimeOffset? from, DateTimeOffset? to, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        EnsureReadable();
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = LedgerRollupReader.FirstAttemptP95Sql('$', from is not null, to is not null);
        AddRange(command, from, to);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new LedgerTaskLatency(reader.GetString(0), reader.GetInt64(1));
        }
    }

    /// <summary>The hours [floor(from), ceiling(to)) as $from / $to.</summary>
    private static void AddHourRange(SqliteCommand command, DateTimeOffset? from, DateTimeOffset? to)
    {
        if (from is { } f)
        {
            command.Parameters.AddWithValue("$from", LedgerRollupReader.FloorHour(f));
        }

        if (to is { } t)
        {
            command.Parameters.AddWithValue("$to", LedgerRollupReader.CeilingHour(t));
        }
    }

    private static void AddRange(SqliteCommand command, DateTimeOffset? from, DateTimeOffset? to)
    {
        if (from is { } f)
        {
            command.Parameters.AddWithValue("$from", SqliteLedgerSchema.ToStoredTimestamp(f));
        }

        if (to is { } t)
        {
            command.Parameters.AddWithValue("$to", SqliteLedgerSchema.ToStoredTimestamp(t));
        }
    }
}
