namespace ModelMix.Routing;

/// <summary>
/// Where a request goes and why: the model, a human-readable reason, how sure the policy is and which policy
/// decided. A value type so that deciding allocates nothing.
/// </summary>
/// <param name="Model">The canonical model id to send the request to (resolved through the price book).</param>
/// <param name="Reason">
/// Why, for people reading logs and the ledger, e.g.
/// <c>rule 'haiku-task-label': task label 'extraction', input ≤ 8K tokens → haiku (claude-haiku-4-5)</c>.
/// </param>
/// <param name="Confidence">How sure the policy is that the model clears the caller's bar, from 0 to 1.</param>
/// <param name="Policy">The <see cref="IRoutingPolicy.Name"/> of the policy that decided.</param>
public readonly record struct RoutingDecision(string Model, string Reason, double Confidence, string Policy)
{
    /// <summary>
    /// Whether the request should be deferred to the Message Batches API (a rule with <c>"batch": true</c>); the
    /// proxy queues such requests (docs/batch.md). False for every other policy.
    /// </summary>
    public bool Batch { get; init; }

    /// <summary>
    /// The <c>output_config.effort</c> the decision sends (a pin, rule or default target such as <c>opus@low</c>);
    /// <see cref="Catalog.EffortLevel.Unspecified"/> keeps the caller's own effort (or the model's default). Never a level
    /// the routed model refuses: <see cref="Catalog.ModelFit"/> clamps it.
    /// </summary>
    public Catalog.EffortLevel Effort { get; init; }
}
