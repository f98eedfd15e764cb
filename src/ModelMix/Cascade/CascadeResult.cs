namespace ModelMix.Pipeline;

/// <summary>
/// What a confidence cascade did for one request: every call, the escalation path, the final confidence and (when
/// the ledger stage is below the cascade) the total cost. Found in <c>ChatResponse.AdditionalProperties</c> under
/// <see cref="CascadeChatClient.ResultKey"/>; read it with <see cref="CascadeChatResponseExtensions.GetCascadeResult"/>.
/// </summary>
/// <param name="RequestId">ModelMix's request id shared by every call's ledger record.</param>
/// <param name="Steps">Every call in order: answers and verifications.</param>
/// <param name="FinalModel">The model whose answer the caller got.</param>
/// <param name="Confidence">The final answer's confidence; null when it was not rated (top tier without verification, tool calls, streamed final answer).</param>
/// <param name="Threshold">The threshold applied (per task label, else the default).</param>
/// <param name="Escalations">How many times the request moved to a stronger tier.</param>
/// <param name="TotalCost">The sum of every call's cost in USD; null when any call could not be priced or no recorder is reachable.</param>
public sealed record CascadeResult(
    string RequestId,
    IReadOnlyList<CascadeStep> Steps,
    string FinalModel,
    double? Confidence,
    double Threshold,
    int Escalations,
    decimal? TotalCost)
{
    /// <summary>The tiers that answered, in order, e.g. <c>haiku → sonnet</c>.</summary>
    public string Path => string.Join(" → ", Steps.Where(s => s.Kind == CascadeStepKind.Answer).Select(s => s.Tier));
}
