namespace ModelMix.Audit;

/// <summary>The bar a cheaper model must clear, and how sure we must be that it does.</summary>
public sealed record RecommendationOptions
{
    /// <summary>The agreement rate with the reference model a candidate must reach (0–1); default 0.95.</summary>
    public double Bar { get; init; } = 0.95;

    /// <summary>Confidence level of the Wilson interval; the interval's lower bound must clear <see cref="Bar"/>. Default 0.95.</summary>
    public double Confidence { get; init; } = 0.95;

    /// <summary>A candidate agrees on a sample when its quality is at least the reference's minus this; default 0.</summary>
    public double Tolerance { get; init; }

    /// <summary>The reference model (tier or model); null: on each sample, the dearest candidate the price book knows.</summary>
    public string? ReferenceModel { get; init; }
}
