namespace ModelMix.Pipeline;

/// <summary>One call a confidence cascade made: an answer on a tier, or a verifier's rating of one.</summary>
/// <param name="Attempt">The attempt number recorded in the ledger for this call.</param>
/// <param name="Kind">Whether the call answered or rated an answer.</param>
/// <param name="Tier">The tier as configured (e.g. <c>haiku</c>), or the model id when configured by id.</param>
/// <param name="Model">The model the call was sent to.</param>
/// <param name="ResponseModel">The model the upstream reported, when it answered.</param>
/// <param name="Confidence">The confidence read (0 to 1); null when the step was not rated.</param>
/// <param name="Cost">The call's cost in USD when an <see cref="Ledger.AttemptRecorder"/> below the cascade priced it; otherwise null.</param>
/// <param name="Reason">Why the call was made, as recorded in the ledger.</param>
public sealed record CascadeStep(
    int Attempt,
    CascadeStepKind Kind,
    string Tier,
    string Model,
    string? ResponseModel,
    double? Confidence,
    decimal? Cost,
    string Reason);
