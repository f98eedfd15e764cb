namespace ModelMix.Budgets;

/// <summary>
/// Money held against one or more budgets for one request until it is settled to the real cost. The periods are
/// fixed when reserving, so a request that straddles midnight is charged to the day it started in.
/// </summary>
public sealed record BudgetReservation
{
    /// <summary>Unique id of the reservation.</summary>
    public required string Id { get; init; }

    /// <summary>ModelMix's request id (links the reservation to its ledger records, for crash reconciliation).</summary>
    public required string RequestId { get; init; }

    /// <summary>The amount held, in USD (rounded up to a nano-dollar).</summary>
    public required decimal AmountUsd { get; init; }

    /// <summary>When it was made.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When a reservation never settled (its process died) may be reclaimed.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>The limits it holds money under.</summary>
    public required IReadOnlyList<BudgetLimit> Limits { get; init; }
}
