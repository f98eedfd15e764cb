using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using ModelMix.Ledger;
using ModelMix.Shadow;
using Npgsql;
using NpgsqlTypes;

namespace ModelMix.Postgres;

/// <summary>
/// The <c>shadow_pairs</c> table of the PostgreSQL ledger (docs/shadow.md): the same columns and meaning as SQLite's
/// (<see cref="SqliteLedgerSchema"/>, step 2), with costs as exact <c>numeric</c> and instants as 100 ns ticks since
/// the Unix epoch. It is its own migration component (<see cref="ShadowComponent"/>), applied by
/// <see cref="MigrateAsync"/> after the ledger's, so the ledger component's steps stay as they shipped.
/// </summary>
public sealed partial class PostgresLedgerStore : IShadowPairStore
{
    /// <summary>The component name of the shadow pair table in <c>modelmix_schema_versions</c>.</summary>
    public const string ShadowComponent = "shadow";

    /// <summary>Migrations of the shadow component in order (append only: never edit a step that has shipped).</summary>
    private static readonly string[] ShadowMigrations =
    [
        // 1: shadow pairs. One row per compared pair; the ledger records of the live, shadow and judge calls carry
        // pair_id in ledger_records.shadow_pair_id. Costs are exact numeric (NULL = unpriced / no call), agreement
        // is a double in [0, 1] (a score, not money; NULL = no comparison was possible). method: exact | json |
        // judge; status: ok | shadow_failed | judge_failed. prompt / live_answer / shadow_answer stay NULL unless
        // the operator turned StoreAnswers on.
        """
        CREATE TABLE shadow_pairs (
            pair_id              text             PRIMARY KEY,
            live_request_id      text             NOT NULL,
            task_label           text,
            live_model           text             NOT NULL,
            shadow_model         text             NOT NULL,
            method               text             NOT NULL,
            agreement            double precision CHECK (agreement IS NULL OR (agreement >= 0 AND agreement <= 1)),
            status               text             NOT NULL,
            live_cost            numeric,
            shadow_cost          numeric,
            judge_cost           numeric,
            live_input_tokens    bigint           NOT NULL,
            live_output_tokens   bigint           NOT NULL,
            shadow_input_tokens  bigint           NOT NULL,
            shadow_output_tokens bigint           NOT NULL,
            created_at           bigint           NOT NULL,
            completed_at         bigint           NOT NULL,
            prompt               text,
            live_answer          text,
            shadow_answer        text
        );
        CREATE INDEX ix_shadow_pairs_created_at ON shadow_pairs (created_at);
        CREATE INDEX ix_shadow_pairs_task_label ON shadow_pairs (task_label, created_at);
        """,
    ];

    /// <summary>The schema version of the shadow component this code creates and understands.</summary>
    public static int ShadowSchemaVersion => ShadowMigrations.Length;

    /// <inheritdoc />
    public async Task WriteShadowPairAsync(ShadowPair pair, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pair);
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            $"INSERT INTO shadow_pairs ({ShadowPairRows.Columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) " +
            "ON CONFLICT (pair_id) DO NOTHING;",
            connection);
        var parameters = command.Parameters;
        parameters.Add(Parameter(pair.PairId, NpgsqlDbType.Text));
        parameters.Add(Parameter(pair.LiveRequestId, NpgsqlDbType.Text));
        parameters.Add(Parameter(pair.TaskLabel, NpgsqlDbType.Text));
        parameters.Add(Parameter(pair.LiveModel, NpgsqlDbType.Text));
        parameters.Add(Parameter(pair.ShadowModel, NpgsqlDbType.Text));
        parameters.Add(Parameter(ShadowRunner.MethodCode(pair.Method), NpgsqlDbType.Text));
        parameters.Add(Parameter(pair.Agreement, NpgsqlDbType.Double));
        parameters.Add(Parameter(pair.Status, NpgsqlDbType.Text));
        parameters.Add(Parameter(pair.LiveCostUsd, NpgsqlDbType.Numeric));
        parameters.Add(Parameter(pair.ShadowCostUsd, NpgsqlDbType.Numeric));
        parameters.Add(Parameter(pair.JudgeCostUsd, NpgsqlDbType.Numeric));
        parameters.Add(Parameter(pair.LiveInputTokens, NpgsqlDbType.Bigint));
        parameters.Add(Parameter(pair.LiveOutputTokens, NpgsqlDbType.Bigint));
        parameters.Add(Parameter(pair.ShadowInputTokens, NpgsqlDbType.Bigint));
        parameters.Add(Parameter(pair.ShadowOutputTokens, NpgsqlDbType.Bigint));
        parameters.Add(Parameter(SqliteLedgerSchema.ToStoredTimestamp(pair.CreatedAt), NpgsqlDbType.Bigint));
        parameters.Add(Parameter(SqliteLedgerSchema.ToStoredTimestamp(pair.CompletedAt), NpgsqlDbType.Bigint));
        parameters.Add(Parameter(pair.Prompt, NpgsqlDbType.Text));
        parameters.Add(Parameter(pair.LiveAnswer, NpgsqlDbType.Text));
        parameters.Add(Parameter(pair.ShadowAnswer, NpgsqlDbType.Text));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ShadowPair> ReadShadowPairsAsync(
        DateTimeOffset? from = null, DateTimeOffset? to = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        EnsureReadable();
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            $"SELECT {ShadowPairRows.Columns} FROM shadow_pairs WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, pair_id;", connection);
        command.Parameters.Add(Parameter(from is { } f ? SqliteLedgerSchema.ToStoredTimestamp(f) : long.MinValue, NpgsqlDbType.Bigint));
        command.Parameters.Add(Parameter(to is { } t ? SqliteLedgerSchema.ToStoredTimestamp(t) : long.MaxValue, NpgsqlDbType.Bigint));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return ShadowPairRows.Read(reader, NullableDecimal);
        }
    }

    [LoggerMessage(EventId = 4020, Level = LogLevel.Information, Message = "Ledger database '{Path}': shadow pair table migrated to schema version {Version}.")]
    private static partial void ShadowMigrationApplied(ILogger logger, string path, int version);

    private async Task MigrateShadowPairsAsync(CancellationToken cancellationToken)
    {
        foreach (var version in await _database.MigrateAsync(ShadowComponent, ShadowMigrations, cancellationToken))
        {
            ShadowMigrationApplied(_logger, _database.Display, version);
        }
    }

    private static NpgsqlParameter Parameter(object? value, NpgsqlDbType type) => new() { Value = value ?? DBNull.Value, NpgsqlDbType = type };

    private static decimal? NullableDecimal(System.Data.Common.DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetDecimal(ordinal);
}
