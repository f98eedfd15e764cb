using System.Runtime.CompilerServices;
using ModelMix.Ledger;
using Npgsql;

namespace ModelMix.Postgres;

public sealed partial class PostgresLedgerStore
{
    /// <inheritdoc />
    public async IAsyncEnumerable<LedgerSessionSummary> ReadSessionSummariesAsync(
        DateTimeOffset? from, DateTimeOffset? to, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandTimeout = 0; // one aggregate over the window's rows: the first row comes at the end (the token still cancels)
        if (await LedgerRollupSql.SessionHoursCoverAsync(from, to, async hour =>
        {
            await using var last = connection.CreateCommand();
            last.CommandText = LedgerRollupSql.SessionHourLastSql('@');
            last.Parameters.AddWithValue("hour", hour);
            return (long)(await last.ExecuteScalarAsync(cancellationToken))!;
        }))
        {
            // Whole hours from the writer's per-session sums (LedgerRollupSql.SessionTable): no raw rows.
            command.CommandText = LedgerRollupSql.SessionSummariesSql(LedgerSqlDialect.Postgres, '@', from is not null, to is not null);
            if (from is { } f)
            {
                command.Parameters.AddWithValue("from", LedgerRollupReader.FloorHour(f));
            }

            if (to is { } t)
            {
                command.Parameters.AddWithValue("to", LedgerRollupReader.CeilingHour(t));
            }
        }
        else
        {
            command.CommandText = LedgerRollupReader.SessionSummariesSql('@', from is not null, to is not null, static c => $"COALESCE(SUM({c}), 0)");
            AddRange(command, from, to);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new LedgerSessionSummary(
                reader.IsDBNull(0) || reader.GetString(0).Length == 0 ? null : reader.GetString(0), reader.GetString(1),
                SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(2)), SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(3)),
                reader.GetDecimal(4), reader.GetInt64(5));
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<LedgerTaskLatency> ReadFirstAttemptP95LatencyAsync(
        DateTimeOffset? from, DateTimeOffset? to, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandTimeout = 0; // one aggregate over the window's raw rows: the first row comes at the end (the token still cancels)
        command.CommandText = LedgerRollupReader.FirstAttemptP95Sql('@', from is not null, to is not null);
        AddRange(command, from, to);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new LedgerTaskLatency(reader.GetString(0), reader.GetInt64(1));
        }
    }

    private static void AddRange(NpgsqlCommand command, DateTimeOffset? from, DateTimeOffset? to)
    {
        if (from is { } f)
        {
            command.Parameters.AddWithValue("from", SqliteLedgerSchema.ToStoredTimestamp(f));
        }

        if (to is { } t)
        {
            command.Parameters.AddWithValue("to", SqliteLedgerSchema.ToStoredTimestamp(t));
        }
    }
}
