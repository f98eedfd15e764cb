namespace ModelMix.Shadow;

/// <summary>Counters of a <see cref="ShadowRunner"/> since it started (also exported as <c>modelmix_shadow_total{result}</c>).</summary>
/// <param name="Sampled">Requests sampled for shadowing.</param>
/// <param name="Dropped">Jobs dropped because the queue was full.</param>
/// <param name="BudgetExhausted">Requests not shadowed because the shadow budget was spent.</param>
/// <param name="Compared">Pairs stored with an agreement score.</param>
/// <param name="ShadowFailed">Shadow calls that failed (the caller never notices).</param>
/// <param name="JudgeFailed">Judge calls that failed or gave no score.</param>
/// <param name="Skipped">Jobs skipped (tool calls, failed live answers, same model).</param>
/// <param name="Errors">Jobs that failed for any other reason (logged).</param>
public sealed record ShadowStatistics(long Sampled, long Dropped, long BudgetExhausted, long Compared, long ShadowFailed, long JudgeFailed, long Skipped, long Errors);
