using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using ModelMix.Shadow;

namespace ModelMix.Ledger;

/// <summary>The <c>shadow_pairs</c> table of the SQLite ledger (schema version 2, see <see cref="SqliteLedgerSchema"/>).</summary>
public sealed partial class SqliteLedgerStore : IShadowPairStore
{
    /// <inheritdoc />
    public async Task WriteShadowPairAsync(ShadowPair pair, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pair);
        await ModelMix.Threading.IoThreads.LeaveAsync(); // the SQLite work below is synchronous (IoThreads.cs)
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            var connection = OpenCheckedWriter();
            using var command = connection.CreateCommand();
            command.CommandText =
                $"INSERT INTO shadow_pairs ({ShadowPairRows.Columns}) VALUES ($p0, $p1, $p2, $p3, $p4, $p5, $p6, $p7, $p8, $p9, $p10, $p11, $p12, $p13, $p14, $p15, $p16, $p17, $p18, $p19) ON CONFLICT (pair_id) DO NOTHING;";
            object?[] values =
            [
                pair.PairId, pair.LiveRequestId, pair.TaskLabel, pair.LiveModel, pair.ShadowModel, ShadowRunner.MethodCode(pair.Method),
                pair.Agreement, pair.Status, Money(pair.LiveCostUsd), Money(pair.ShadowCostUsd), Money(pair.JudgeCostUsd),
                pair.LiveInputTokens, pair.LiveOutputTokens, pair.ShadowInputTokens, pair.ShadowOutputTokens,
                SqliteLedgerSchema.ToStoredTimestamp(pair.CreatedAt), SqliteLedgerSchema.ToStoredTimestamp(pair.CompletedAt),
                pair.Prompt, pair.LiveAnswer, pair.ShadowAnswer,
            ];
            for (var i = 0; i < values.Length; i++)
            {
                command.Parameters.AddWithValue("$p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), values[i] ?? DBNull.Value);
            }

            command.ExecuteNonQuery();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ShadowPair> ReadShadowPairsAsync(DateTimeOffset? from = null, DateTimeOffset? to = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        EnsureReadable();
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {ShadowPairRows.Columns} FROM shadow_pairs WHERE created_at >= $from AND created_at < $to ORDER BY created_at, pair_id;";
        command.Parameters.AddWithValue("$from", from is { } f ? SqliteLedgerSchema.ToStoredTimestamp(f) : long.MinValue);
        command.Parameters.AddWithValue("$to", to is { } t ? SqliteLedgerSchema.ToStoredTimestamp(t) : long.MaxValue);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return ShadowPairRows.Read(reader, ReadMoney);
        }
    }

    private static string? Money(decimal? value) => value is { } amount ? SqliteLedgerSchema.ToStoredDecimal(amount) : null;

    private static decimal? ReadMoney(System.Data.Common.DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : SqliteLedgerSchema.FromStoredDecimal(reader.GetString(ordinal));
}
