namespace ModelMix.Catalog;

/// <summary>The <c>thinking.type</c> a request sends. Source: https://platform.claude.com/docs/en/build-with-claude/adaptive-thinking</summary>
public enum ThinkingMode : byte
{
    /// <summary>No <c>thinking</c> object: the model's default applies.</summary>
    Unspecified = 0,

    /// <summary><c>{"type": "disabled"}</c>.</summary>
    Disabled = 1,

    /// <summary><c>{"type": "enabled", "budget_tokens": N}</c>: manual extended thinking.</summary>
    Manual = 2,

    /// <summary><c>{"type": "adaptive"}</c>.</summary>
    Adaptive = 3,

    /// <summary><c>{"type": "between_tools"}</c>: adaptive thinking without up-front thinking.</summary>
    BetweenTools = 4,

    /// <summary>A type this version of ModelMix does not know: never judged.</summary>
    Other = 255,
}
