namespace ModelMix.Shadow;

/// <summary>How a live answer and its shadow answer are compared (stored as <c>exact</c>, <c>json</c>, <c>judge</c>).</summary>
public enum ShadowComparison
{
    /// <summary>Normalized exact match (case, surrounding whitespace and quotes, trailing punctuation ignored): for classification-like outputs.</summary>
    Exact,

    /// <summary>The share of JSON fields (the configured ones, or all top-level fields) with equal values: for structured outputs.</summary>
    Json,

    /// <summary>A judge model rates 0..1 how well the shadow answer matches the live one: for free text.</summary>
    Judge,
}
