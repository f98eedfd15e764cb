namespace ModelMix.Ledger;

/// <summary>The calls of one session in a range, summed (<see cref="ILedgerRollupStore.ReadSessionSummariesAsync"/>).</summary>
/// <param name="KeyId">The key that made them; null without a key.</param>
/// <param name="SessionId">The session id.</param>
/// <param name="First">The earliest call's timestamp.</param>
/// <param name="Last">The latest call's timestamp.</param>
/// <param name="Cost">The recorded cost summed (unpriced calls count 0).</param>
/// <param name="Calls">The number of calls.</param>
public readonly record struct LedgerSessionSummary(string? KeyId, string SessionId, DateTimeOffset First, DateTimeOffset Last, decimal Cost, long Calls);

/// <summary>A task's 95th percentile first-attempt latency (<see cref="ILedgerRollupStore.ReadFirstAttemptP95LatencyAsync"/>).</summary>
/// <param name="Task">The task label; "(none)" for calls without one (as the audit names them).</param>
/// <param name="P95LatencyMs">The latency, in milliseconds.</param>
public readonly record struct LedgerTaskLatency(string Task, long P95LatencyMs);
