namespace ModelMix.Catalog;

/// <summary>
/// The <c>output_config.effort</c> levels of the Messages API, lowest to highest; <see cref="Unspecified"/> when a
/// request sends none (the model's default applies). Source: https://platform.claude.com/docs/en/build-with-claude/effort
/// </summary>
public enum EffortLevel : byte
{
    /// <summary>No effort sent: the model's default effort applies.</summary>
    Unspecified = 0,

    /// <summary><c>low</c>.</summary>
    Low = 1,

    /// <summary><c>medium</c>.</summary>
    Medium = 2,

    /// <summary><c>high</c>.</summary>
    High = 3,

    /// <summary><c>xhigh</c>.</summary>
    XHigh = 4,

    /// <summary><c>max</c>.</summary>
    Max = 5,

    /// <summary>A level this version of ModelMix does not know: never judged against a model's levels.</summary>
    Other = 255,
}
