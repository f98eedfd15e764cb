namespace ModelMix.Batching;

/// <summary>
/// A fault met while handling jobs, to record against each of them (<see cref="IBatchStore.RecordFaultAsync"/>): the
/// reason becomes the job's <see cref="BatchJob.LastError"/>; a counted fault also adds one to its
/// <see cref="BatchJob.Failures"/> and holds its queued requests back until <see cref="BatchJob.RetryAt"/>.
/// </summary>
/// <param name="Reason">What went wrong, for the operator (shown by <c>GET /v1/modelmix/batch/{id}</c>).</param>
/// <param name="Counted">Whether it counts towards quarantine (false for transient answers: 5xx, 429, no answer).</param>
/// <param name="At">When it happened.</param>
/// <param name="RetryDelay">The wait after a job's n-th counted fault in a row (<see cref="BatcherOptions.RetryDelayAfter"/>).</param>
public sealed record BatchFault(string Reason, bool Counted, DateTimeOffset At, Func<int, TimeSpan> RetryDelay);
