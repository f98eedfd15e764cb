namespace ModelMix.Routing;

/// <summary>The dataset model names a learned router was trained on, per tier (the proxy maps tiers to its own models).</summary>
/// <param name="Cheap">The cheap tier's model.</param>
/// <param name="Mid">The middle tier's model, or null for a two-tier router.</param>
/// <param name="Top">The top tier's model.</param>
internal sealed record LearnedRouterTiers(string Cheap, string? Mid, string Top);
