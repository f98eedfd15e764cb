using ModelMix.Pricing;

namespace ModelMix.Ledger;

/// <summary>What a record must satisfy to be stored; checked before a record is buffered or written.</summary>
internal static class LedgerRecordRules
{
    /// <summary>Throws <see cref="ArgumentException"/> when a required field is missing.</summary>
    public static void RequireFields(LedgerRecord record, string paramName)
    {
        ArgumentNullException.ThrowIfNull(record, paramName);
        if (string.IsNullOrEmpty(record.Id) || string.IsNullOrEmpty(record.RequestId) ||
            string.IsNullOrEmpty(record.RequestedModel) || string.IsNullOrEmpty(record.RoutedModel))
        {
            throw new ArgumentException(
                $"Ledger record '{record.Id}' lacks a required field: {nameof(LedgerRecord.Id)}, " +
                $"{nameof(LedgerRecord.RequestId)}, {nameof(LedgerRecord.RequestedModel)} and " +
                $"{nameof(LedgerRecord.RoutedModel)} must be non-empty.",
                paramName);
        }
    }

    /// <summary>
    /// Checks the arguments of a ledger store's <c>CommitAsync</c> (every backend's): both lists given, every record with
    /// its required fields. False when there is nothing to write.
    /// </summary>
    public static bool RequireCommit(IReadOnlyList<LedgerRecord> records, IReadOnlyList<ReservationSettlement> settlements)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(settlements);
        for (var i = 0; i < records.Count; i++)
        {
            RequireFields(records[i], nameof(records));
        }

        return records.Count > 0 || settlements.Count > 0;
    }

    /// <summary>Throws <see cref="ArgumentException"/> when the record could never be stored.</summary>
    public static void Validate(LedgerRecord record, string paramName)
    {
        RequireFields(record, paramName);
        if (!Enum.IsDefined(record.Status) || !Enum.IsDefined(record.Usage.ServiceTier) || !Enum.IsDefined(record.Usage.Speed))
        {
            throw new ArgumentException(
                $"Ledger record '{record.Id}' has an undefined {nameof(LedgerStatus)}, {nameof(ServiceTier)} or {nameof(Speed)} value.",
                paramName);
        }
    }
}
