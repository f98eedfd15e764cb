namespace ModelMix.Catalog;

/// <summary>The <c>tool_choice.type</c> a request sends.</summary>
public enum ToolChoiceMode : byte
{
    /// <summary>No <c>tool_choice</c>: <c>auto</c> when tools are given.</summary>
    Unspecified = 0,

    /// <summary><c>auto</c>.</summary>
    Auto = 1,

    /// <summary><c>none</c>.</summary>
    None = 2,

    /// <summary><c>any</c>: the model must call some tool (forced tool use).</summary>
    Any = 3,

    /// <summary><c>tool</c>: the model must call the named tool (forced tool use).</summary>
    Tool = 4,
}
