namespace ModelMix.Ledger;

/// <summary>
/// The durable intent of one upstream attempt, journaled before the attempt is sent (docs/ledger.md, "Crash
/// consistency"): <see cref="Fallback"/> is the record the attempt becomes if its process dies before recording it —
/// its id is the id the attempt's own record will carry, its status <see cref="LedgerStatus.OutcomeUnknown"/>, its
/// usage the attempt's worst case (<see cref="LedgerRecord.UsageEstimated"/>) and its cost that usage priced.
/// </summary>
/// <param name="Fallback">The outcome-unknown record; its id is the attempt's record id.</param>
/// <param name="ReservationId">The budget reservation the attempt counts against, when a budget applies.</param>
public sealed record LedgerIntent(LedgerRecord Fallback, string? ReservationId);
