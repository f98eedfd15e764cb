namespace ModelMix.Ledger;

/// <summary>
/// Selects ledger records. Every filter that is set must match (AND); an unset filter matches everything. Results are
/// ordered by <see cref="LedgerRecord.Timestamp"/> ascending, ties in the order the records were committed.
/// </summary>
public sealed record LedgerQuery
{
    /// <summary>A query that matches every record.</summary>
    public static LedgerQuery All { get; } = new();

    /// <summary>Earliest timestamp to include (inclusive).</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Timestamp to stop before (exclusive), so consecutive windows never count a record twice.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>Only the attempts of this ModelMix request id.</summary>
    public string? RequestId { get; init; }

    /// <summary>Only records of this session.</summary>
    public string? SessionId { get; init; }

    /// <summary>Only records made with this virtual key id.</summary>
    public string? KeyId { get; init; }

    /// <summary>Only records with this task label.</summary>
    public string? TaskLabel { get; init; }

    /// <summary>Only records routed to this model (<see cref="LedgerRecord.RoutedModel"/>).</summary>
    public string? Model { get; init; }

    /// <summary>Only records with this outcome.</summary>
    public LedgerStatus? Status { get; init; }

    /// <summary>
    /// At most this many records, the earliest first. It applies to reads, counts and totals alike, so a total is
    /// always the total of exactly the records a read would return. Must be positive when set.
    /// </summary>
    public int? Limit { get; init; }
}
