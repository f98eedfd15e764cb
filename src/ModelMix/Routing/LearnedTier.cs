namespace ModelMix.Routing;

/// <summary>The tiers a learned router chooses between.</summary>
internal enum LearnedTier
{
    /// <summary>The cheapest tier.</summary>
    Cheap,

    /// <summary>The middle tier (when the router has one).</summary>
    Mid,

    /// <summary>The top tier.</summary>
    Top,
}
