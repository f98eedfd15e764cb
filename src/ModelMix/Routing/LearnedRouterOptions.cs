namespace ModelMix.Routing;

/// <summary>
/// The learned routing alias (<c>ModelMix:LearnedRouter</c>): when <see cref="Path"/> names a router file (from
/// <c>modelmix train</c> and <c>calibrate</c>), requests for <see cref="Alias"/> go through the pins, then the learned
/// router, whose cheap / mid / top tiers map to <see cref="Cheap"/> / <see cref="Mid"/> / <see cref="Top"/>. The file
/// is loaded when the alias map is built (at start): a missing or invalid file, or a router whose in-domain evidence
/// does not beat random routing (<see cref="LearnedRouterGuard"/>) unless <see cref="Force"/> is set, fails the start.
/// </summary>
public sealed class LearnedRouterOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix:LearnedRouter";

    /// <summary>The alias served unless <see cref="Alias"/> says otherwise.</summary>
    public const string DefaultAlias = "auto-learned";

    /// <summary>The router file; no learned alias when null or empty.</summary>
    public string? Path { get; set; }

    /// <summary>The alias clients send (<c>auto-learned</c> by default).</summary>
    public string Alias { get; set; } = DefaultAlias;

    /// <summary>Serve the router even when its evidence does not earn it traffic (the start log then warns).</summary>
    public bool Force { get; set; }

    /// <summary>The tier or model of the router's cheap tier (<c>haiku</c>).</summary>
    public string Cheap { get; set; } = "haiku";

    /// <summary>The tier or model of the router's mid tier (<c>sonnet</c>).</summary>
    public string Mid { get; set; } = "sonnet";

    /// <summary>The tier or model of the router's top tier (<c>opus</c>).</summary>
    public string Top { get; set; } = "opus";
}
