namespace ModelMix.Ledger;

/// <summary>
/// The budget reservation the upstream calls of the current async flow count against, carried into their intents
/// (<see cref="LedgerIntent.ReservationId"/>, docs/ledger.md "Crash consistency"): a reconciled call whose reservation
/// was already reclaimed is then charged to that reservation's counters, so the budget keeps equal to the ledger. Set
/// by whoever holds the reservation around the calls it pays for — the proxy's routing calls (the request's hold), the
/// shadow runner (the shadow budget's hold for a pair) — at the top of an async method, whose end restores the
/// caller's value; read by <see cref="Pipeline.LedgerChatClient"/> and the proxy's own shadow call.
/// </summary>
internal static class IntentReservation
{
    private static readonly AsyncLocal<string?> Reservation = new();

    /// <summary>The reservation in force for this flow's calls; null when none.</summary>
    public static string? Current => Reservation.Value;

    /// <summary>Makes the calls of the current async flow (and of what it awaits) count against <paramref name="reservationId"/>.</summary>
    public static void Use(string? reservationId) => Reservation.Value = reservationId;
}
