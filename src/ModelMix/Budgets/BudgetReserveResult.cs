namespace ModelMix.Budgets;

/// <summary>The outcome of <see cref="IBudgetStore.ReserveAsync"/>: a reservation, or the refusal that explains why not.</summary>
public sealed record BudgetReserveResult
{
    /// <summary>The money held, when the request fits every budget.</summary>
    public BudgetReservation? Reservation { get; init; }

    /// <summary>The budget that refused, when it does not.</summary>
    public BudgetRefusal? Refusal { get; init; }

    /// <summary>Whether the money was reserved.</summary>
    public bool Succeeded => Reservation is not null;
}
