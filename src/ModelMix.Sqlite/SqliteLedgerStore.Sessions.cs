using System.Runtime.CompilerServices;

namespace ModelMix.Ledger;

public sealed partial class SqliteLedgerStore
{
    /// <inheritdoc />
    public async IAsyncEnumerable<LedgerSessionSummary> ReadSessionSummariesAsync(
        DateTimeOffset? from, DateTimeOffset? to, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        EnsureReadable();
        await using var connection = await OpenReaderAsync(cancellationToken);
        SqliteLedgerRollups.RegisterFunctions(connection); // the exact decimal sum of cost text
        await using var command = connection.CreateCommand();
        command.CommandText = LedgerRollupReader.SessionSummariesSql('$', from is not null, to is not null, static c => $"{SqliteLedgerRollups.DecimalSumFunction}({c})");
        AddRange(command, from, to);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new LedgerSessionSummary(
                reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetString(1),
                SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(2)), SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(3)),
                SqliteLedgerSchema.FromStoredDecimal(reader.GetString(4)), reader.GetInt64(5));
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<LedgerTaskLatency> ReadFirstAttemptP95LatencyAsync(
        DateTimeOffset? from, DateTimeOffset? to, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
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
}
