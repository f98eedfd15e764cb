using System.Data.Common;
using ModelMix.Ledger;

namespace ModelMix.Shadow;

/// <summary>
/// The <c>shadow_pairs</c> table's columns and their rows read back, for the SQLite and PostgreSQL stores alike: the
/// same columns (times as 100 ns ticks); only how money is stored differs (exact decimal text in SQLite, <c>numeric</c>
/// in PostgreSQL), so the store passes its money reader.
/// </summary>
internal static class ShadowPairRows
{
    /// <summary>The table's columns, in the order <see cref="Read"/> reads them.</summary>
    public const string Columns =
        "pair_id, live_request_id, task_label, live_model, shadow_model, method, agreement, status, live_cost, shadow_cost, judge_cost, " +
        "live_input_tokens, live_output_tokens, shadow_input_tokens, shadow_output_tokens, created_at, completed_at, prompt, live_answer, shadow_answer";

    /// <summary>A pair from a row of <see cref="Columns"/>; <paramref name="money"/> reads a nullable cost column.</summary>
    public static ShadowPair Read(DbDataReader reader, Func<DbDataReader, int, decimal?> money) => new()
    {
        PairId = reader.GetString(0),
        LiveRequestId = reader.GetString(1),
        TaskLabel = NullableString(reader, 2),
        LiveModel = reader.GetString(3),
        ShadowModel = reader.GetString(4),
        Method = ShadowRunner.ParseMethod(reader.GetString(5)),
        Agreement = reader.IsDBNull(6) ? null : reader.GetDouble(6),
        Status = reader.GetString(7),
        LiveCostUsd = money(reader, 8),
        ShadowCostUsd = money(reader, 9),
        JudgeCostUsd = money(reader, 10),
        LiveInputTokens = reader.GetInt64(11),
        LiveOutputTokens = reader.GetInt64(12),
        ShadowInputTokens = reader.GetInt64(13),
        ShadowOutputTokens = reader.GetInt64(14),
        CreatedAt = SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(15)),
        CompletedAt = SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(16)),
        Prompt = NullableString(reader, 17),
        LiveAnswer = NullableString(reader, 18),
        ShadowAnswer = NullableString(reader, 19),
    };

    private static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
