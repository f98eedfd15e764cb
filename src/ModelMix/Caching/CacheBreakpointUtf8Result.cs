namespace ModelMix.Caching;

/// <summary>The outcome of <see cref="CacheBreakpointPlanner.ApplyUtf8"/>: the bytes to forward and the plan.</summary>
/// <param name="Body">The request body with the added <c>cache_control</c> members; the original memory when nothing was added.</param>
/// <param name="Plan">What the planner found, added and skipped.</param>
public sealed record CacheBreakpointUtf8Result(ReadOnlyMemory<byte> Body, CacheBreakpointPlan Plan);
