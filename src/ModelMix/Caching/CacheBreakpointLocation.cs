namespace ModelMix.Caching;

/// <summary>The part of a Messages request a cache breakpoint sits in, in the API's prefix order.</summary>
public enum CacheBreakpointLocation
{
    /// <summary>A tool definition in <c>tools</c>.</summary>
    Tools,

    /// <summary>A block of <c>system</c>.</summary>
    System,

    /// <summary>A content block of a message in <c>messages</c>.</summary>
    Messages,
}
