namespace ModelMix.Audit;

/// <summary>
/// Thinking the API dropped from prompts (<c>input_transformations</c> of type <c>thinking_dropped</c>): reasoning
/// paid for as output once and not reused, so a model that needs it again pays for it again.
/// </summary>
/// <param name="BlocksDropped">Thinking blocks dropped, summed over every record.</param>
/// <param name="Calls">Records with at least one dropped block.</param>
/// <param name="CostUsd">What those records cost (exact; unpriced ones add nothing).</param>
internal sealed record AuditDroppedThinking(long BlocksDropped, long Calls, decimal CostUsd)
{
    /// <summary>No dropped thinking.</summary>
    public static readonly AuditDroppedThinking None = new(0, 0, 0m);
}
