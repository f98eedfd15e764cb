namespace ModelMix.Routing;

/// <summary>
/// The configured routing aliases (<c>ModelMix:Aliases</c>): each child is a routing section of its own (pins, rules,
/// default, as <c>ModelMix:Routing</c>), served under the child's name by both doors (<see cref="RoutingAliases"/>).
/// Bound key by key with <see cref="RoutingConfiguration.Bind"/>, so an unknown key fails the start naming its path.
/// </summary>
public sealed class RoutingAliasOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix:Aliases";

    /// <summary>The aliases by name (matched in any casing), in the order configured.</summary>
    public IDictionary<string, RoutingOptions> Aliases { get; } = new Dictionary<string, RoutingOptions>(StringComparer.OrdinalIgnoreCase);
}
