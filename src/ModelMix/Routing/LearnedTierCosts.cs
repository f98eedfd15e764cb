namespace ModelMix.Routing;

/// <summary>
/// What each tier's answers cost relative to the top tier's, on the training data (the tiers' mean cost over the top's):
/// the price side of the router's choice (a tier is chosen only where its expected quality pays for its price).
/// </summary>
/// <param name="Cheap">The cheap tier's mean cost as a fraction of the top tier's.</param>
/// <param name="Mid">The middle tier's, or the top's (1) without a middle tier.</param>
internal sealed record LearnedTierCosts(double Cheap, double Mid)
{
    /// <summary>The costs used until a router is trained on data with costs: cheap 0.2, mid 0.6 of the top.</summary>
    public static LearnedTierCosts Default { get; } = new(0.2, 0.6);

    /// <summary>The relative cost of a tier (the top's is 1).</summary>
    public double Of(LearnedTier tier) => tier switch { LearnedTier.Cheap => Cheap, LearnedTier.Mid => Mid, _ => 1 };
}
