namespace ModelMix.Ledger;

/// <summary>
/// The end of a request's budget hold, committed in a ledger batch after the request's records (docs/ledger.md,
/// "Crash consistency"): the reservation is released and its counters charged the cost the ledger holds for the
/// request — in the same transaction, so budget and ledger agree by construction.
/// </summary>
/// <param name="ReservationId">The reservation (<see cref="Budgets.BudgetReservation.Id"/>).</param>
/// <param name="RequestId">The request whose recorded cost is charged.</param>
public sealed record ReservationSettlement(string ReservationId, string RequestId);
