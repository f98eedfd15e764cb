using System.Data.Common;
using ModelMix.Budgets;

namespace ModelMix.Ledger;

/// <summary>
/// The attempt intent journal's rows and rules, the same in every store backend: what a batch of intents must hold, the
/// <c>ledger_intents</c> row as a <see cref="LedgerIntent"/> (columns of <see cref="SqliteLedgerSchema.IntentColumns"/>
/// in their order; the two flags are 0/1 integers in SQLite and booleans in PostgreSQL, both read with
/// <see cref="DbDataReader.GetBoolean"/>), and what reconciling an intent charges its reservation.
/// </summary>
internal static class LedgerIntentRows
{
    /// <summary><see cref="SqliteLedgerSchema.IntentColumns"/> qualified with the alias <c>i</c>, for reads.</summary>
    public static readonly string QualifiedColumns = string.Join(", ", SqliteLedgerSchema.IntentColumns.Split(", ").Select(column => "i." + column));

    /// <summary>
    /// Throws for a batch <c>WriteIntentsAsync</c> cannot take: no instance id, no list, or an intent that could never
    /// become a stored record (<see cref="ArgumentException"/>).
    /// </summary>
    public static void RequireAll(string instanceId, IReadOnlyList<LedgerIntent> intents)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        ArgumentNullException.ThrowIfNull(intents);
        for (var i = 0; i < intents.Count; i++)
        {
            var intent = intents[i];
            ArgumentNullException.ThrowIfNull(intent, nameof(intents));
            if (string.IsNullOrEmpty(intent.Id) || string.IsNullOrEmpty(intent.RequestId) ||
                string.IsNullOrEmpty(intent.RequestedModel) || string.IsNullOrEmpty(intent.RoutedModel))
            {
                throw new ArgumentException(
                    $"Ledger intent '{intent.Id}' lacks a required field: Id, RequestId, RequestedModel and RoutedModel must be non-empty.",
                    nameof(intents));
            }
        }
    }

    /// <summary>Reads an intent selected with <see cref="QualifiedColumns"/> (or the columns in that order).</summary>
    public static LedgerIntent Read(DbDataReader r) => new()
    {
        Id = r.GetString(0),
        CreatedAt = SqliteLedgerSchema.FromStoredTimestamp(r.GetInt64(1)),
        ReservationId = r.IsDBNull(3) ? null : r.GetString(3),
        RequestId = r.GetString(4),
        KeyId = r.IsDBNull(5) ? null : r.GetString(5),
        SessionId = r.IsDBNull(6) ? null : r.GetString(6),
        TaskLabel = r.IsDBNull(7) ? null : r.GetString(7),
        RequestedModel = r.GetString(8),
        RoutedModel = r.GetString(9),
        Policy = r.IsDBNull(10) ? null : r.GetString(10),
        Attempt = r.GetInt32(11),
        EscalatedFrom = r.IsDBNull(12) ? null : r.GetString(12),
        Effort = r.IsDBNull(13) ? null : r.GetString(13),
        EffortIsDefault = r.GetBoolean(14),
        Streaming = r.GetBoolean(15),
        ShadowPairId = r.IsDBNull(16) ? null : r.GetString(16),
        InputTokens = r.GetInt64(17),
        OutputTokens = r.GetInt64(18),
    };

    /// <summary>
    /// What the reconciled <paramref name="record"/> of an intent with a reservation charges it, in nano-dollars: its
    /// cost; null (the whole hold, as settling does) for an unpriced estimate with tokens; 0 for one without.
    /// </summary>
    public static long? ReclaimedCharge(LedgerRecord record) =>
        record.Cost is { } cost ? BudgetMoney.ToNanos(cost.Total) : record.Usage.InputTokens + record.Usage.OutputTokens > 0 ? null : 0;
}
