namespace ModelMix.Routing;

/// <summary>
/// The static routing configuration, bound from <c>ModelMix:Routing</c> in appsettings.json or read from a rules
/// file: pins (task label → model or tier), ordered rules, and the default model.
/// </summary>
public sealed class RoutingOptions
{
    /// <summary>The configuration section this binds from by default.</summary>
    public const string SectionName = "ModelMix:Routing";

    /// <summary>Task label → tier or model; a pin always wins over rules.</summary>
    public IDictionary<string, string> Pins { get; set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The ordered rules (first match wins); null means <see cref="DefaultRules"/>, empty means no rules.</summary>
    public IList<RoutingRuleOptions>? Rules { get; set; }

    /// <summary>The tier or model for requests no pin or rule decides; Sonnet unless set.</summary>
    public string Default { get; set; } = "sonnet";
}
