namespace ModelMix.Catalog;

/// <summary>A set of <see cref="EffortLevel"/>s a model accepts, as bit flags so a check allocates nothing.</summary>
[Flags]
public enum EffortLevels : byte
{
    /// <summary>The model takes no <c>effort</c> parameter.</summary>
    None = 0,

    /// <summary><c>low</c>.</summary>
    Low = 1 << 0,

    /// <summary><c>medium</c>.</summary>
    Medium = 1 << 1,

    /// <summary><c>high</c>.</summary>
    High = 1 << 2,

    /// <summary><c>xhigh</c>.</summary>
    XHigh = 1 << 3,

    /// <summary><c>max</c>.</summary>
    Max = 1 << 4,
}
