using System.Data.Common;
using ModelMix.Pricing;

namespace ModelMix.Ledger;

/// <summary>
/// A <c>ledger_records</c> row as a <see cref="LedgerRecord"/>: the one mapping every store backend reads with, over the
/// columns of <see cref="SqliteLedgerSchema"/>'s column list in their order. A backend says only how it stores money
/// and flags (SQLite: decimal text and 0/1 integers; PostgreSQL: <c>numeric</c> and <c>boolean</c>).
/// </summary>
internal static class LedgerRows
{
    /// <summary>Maps the current row of <paramref name="r"/>.</summary>
    /// <param name="r">A reader positioned on a row selected with the full column list.</param>
    /// <param name="money">Reads a non-null money column.</param>
    /// <param name="flag">Reads a boolean column.</param>
    public static LedgerRecord Read<TReader>(TReader r, Func<TReader, int, decimal> money, Func<TReader, int, bool> flag)
        where TReader : DbDataReader
    {
        CostBreakdown? cost = r.IsDBNull(22)
            ? null
            : new CostBreakdown(
                money(r, 22),
                money(r, 23),
                money(r, 24),
                money(r, 25),
                money(r, 26),
                r.IsDBNull(39) ? 0m : money(r, 39)); // NULL: a row from before the fee existed
        return new LedgerRecord
        {
            Id = r.GetString(0),
            Timestamp = SqliteLedgerSchema.FromStoredTimestamp(r.GetInt64(1)),
            RequestId = r.GetString(2),
            UpstreamRequestId = NullableString(r, 3),
            SessionId = NullableString(r, 4),
            KeyId = NullableString(r, 5),
            TaskLabel = NullableString(r, 6),
            RequestedModel = r.GetString(7),
            RoutedModel = r.GetString(8),
            ResponseModel = NullableString(r, 9),
            Policy = NullableString(r, 10),
            Reason = NullableString(r, 11),
            Attempt = r.GetInt32(12),
            EscalatedFrom = NullableString(r, 13),
            Usage = new TokenUsage(
                r.GetInt64(14),
                r.GetInt64(15),
                r.GetInt64(16),
                r.GetInt64(17),
                r.GetInt64(18),
                SqliteLedgerSchema.ParseServiceTier(r.GetString(19)),
                SqliteLedgerSchema.ParseSpeed(r.GetString(20)),
                NullableString(r, 21),
                r.GetInt64(37),
                r.GetInt64(38)),
            Cost = cost,
            LatencyMs = r.GetInt64(28),
            Streaming = flag(r, 29),
            Status = SqliteLedgerSchema.ParseStatus(r.GetString(30)),
            HttpStatus = r.GetInt32(31),
            ErrorType = NullableString(r, 32),
            ShadowPairId = NullableString(r, 33),
            Effort = NullableString(r, 34),
            EffortIsDefault = flag(r, 35),
            ThinkingBlocksDropped = r.GetInt32(36),
            ClientDisconnected = flag(r, 40),
            UsageEstimated = flag(r, 41),
            OverrunUsd = r.IsDBNull(42) ? null : money(r, 42),
        };
    }

    private static string? NullableString(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
