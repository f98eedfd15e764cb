namespace ModelMix.Caching;

/// <summary>
/// What <see cref="CacheBreakpointPlanner"/> did to one request: the breakpoints it found and added, how much of the
/// prompt they cover, and why it left out each place it did not mark.
/// </summary>
public sealed record CacheBreakpointPlan
{
    /// <summary>The model the plan was made for, as given.</summary>
    public required string Model { get; init; }

    /// <summary>The model's minimum cacheable prompt length from the price book; null when unknown.</summary>
    public int? MinCacheableTokens { get; init; }

    /// <summary>The breakpoints the request already carried, in prefix order; never moved or removed.</summary>
    public IReadOnlyList<CacheBreakpoint> Existing { get; init; } = [];

    /// <summary>The breakpoints the planner added, in prefix order.</summary>
    public IReadOnlyList<CacheBreakpoint> Added { get; init; } = [];

    /// <summary>The estimated tokens of the prefix up to the last breakpoint (existing or added); 0 when there is none.</summary>
    public long EstimatedCachedPrefixTokens { get; init; }

    /// <summary>One human-readable sentence per place or rule that kept the planner from adding a breakpoint.</summary>
    public IReadOnlyList<string> Skipped { get; init; } = [];

    /// <summary>Whether the planner changed the request.</summary>
    public bool Changed => Added.Count > 0;
}
