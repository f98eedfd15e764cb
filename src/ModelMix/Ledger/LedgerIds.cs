namespace ModelMix.Ledger;

/// <summary>
/// Makes ledger record ids that sort by time (UUID version 7, 32 hex digits). Time-ordered ids append to the end of
/// the ledger's unique id index instead of landing at random pages, which makes SQLite commits several times faster
/// than with random GUIDs.
/// </summary>
public static class LedgerIds
{
    /// <summary>A new time-ordered id for a record made at <paramref name="timestamp"/>.</summary>
    /// <param name="timestamp">When the record was made; its millisecond leads the id.</param>
    public static string New(DateTimeOffset timestamp) => Guid.CreateVersion7(timestamp).ToString("N");

    /// <summary>A new time-ordered id for a record made now by <paramref name="timeProvider"/>'s clock.</summary>
    /// <param name="timeProvider">The clock to read.</param>
    public static string New(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        return New(timeProvider.GetUtcNow());
    }
}
