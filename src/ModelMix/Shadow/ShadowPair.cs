namespace ModelMix.Shadow;

/// <summary>
/// One compared pair: a live answer and the candidate model's answer to the same request, with the agreement score
/// and what each side cost. Stored in the <c>shadow_pairs</c> table; the ledger records of the live call, the shadow
/// call and the judge call carry <see cref="PairId"/> in <c>shadow_pair_id</c>.
/// </summary>
public sealed record ShadowPair
{
    /// <summary>The pair id (also the <c>request_id</c> of the shadow and judge ledger records).</summary>
    public required string PairId { get; init; }

    /// <summary>The live request's id.</summary>
    public required string LiveRequestId { get; init; }

    /// <summary>The caller's task label, if any.</summary>
    public string? TaskLabel { get; init; }

    /// <summary>The model that gave the live answer (the routed model).</summary>
    public required string LiveModel { get; init; }

    /// <summary>The candidate model that gave the shadow answer.</summary>
    public required string ShadowModel { get; init; }

    /// <summary>How the answers were compared.</summary>
    public required ShadowComparison Method { get; init; }

    /// <summary>Agreement 0..1 (1 = the shadow answer is as good as the live one); null when no comparison could be made.</summary>
    public double? Agreement { get; init; }

    /// <summary><c>ok</c>, <c>shadow_failed</c> or <c>judge_failed</c>.</summary>
    public required string Status { get; init; }

    /// <summary>Cost of the live answer in USD; null when unpriced.</summary>
    public decimal? LiveCostUsd { get; init; }

    /// <summary>Cost of the shadow answer in USD; null when unpriced or when it failed.</summary>
    public decimal? ShadowCostUsd { get; init; }

    /// <summary>Cost of the judge call in USD; null when there was none.</summary>
    public decimal? JudgeCostUsd { get; init; }

    /// <summary>Input tokens of the live answer.</summary>
    public long LiveInputTokens { get; init; }

    /// <summary>Output tokens of the live answer.</summary>
    public long LiveOutputTokens { get; init; }

    /// <summary>Input tokens of the shadow answer.</summary>
    public long ShadowInputTokens { get; init; }

    /// <summary>Output tokens of the shadow answer.</summary>
    public long ShadowOutputTokens { get; init; }

    /// <summary>When the live answer was received (UTC).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the comparison finished (UTC).</summary>
    public required DateTimeOffset CompletedAt { get; init; }

    /// <summary>The prompt text; null unless <see cref="ShadowOptions.StoreAnswers"/> is on (then redacted).</summary>
    public string? Prompt { get; init; }

    /// <summary>The live answer text; null unless <see cref="ShadowOptions.StoreAnswers"/> is on (then redacted).</summary>
    public string? LiveAnswer { get; init; }

    /// <summary>The shadow answer text; null unless <see cref="ShadowOptions.StoreAnswers"/> is on (then redacted).</summary>
    public string? ShadowAnswer { get; init; }
}
