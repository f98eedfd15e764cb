using System.Text.Json;

namespace ModelMix.Catalog;

/// <summary>
/// Reads <see cref="RequestTraits"/> from a Messages API request body (the proxy door, and anywhere ModelMix holds the
/// JSON). Unknown or malformed fields count as absent: the upstream judges them, not this reader.
/// </summary>
internal static class RequestTraitsReader
{
    /// <summary>The traits of a parsed <c>POST /v1/messages</c> body.</summary>
    /// <param name="root">The body's root object.</param>
    public static RequestTraits Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return default;
        }

        var toolChoice = ToolChoiceMode.Unspecified;
        if (root.TryGetProperty("tool_choice", out var choice) && choice.ValueKind == JsonValueKind.Object
            && choice.TryGetProperty("type", out var choiceType) && choiceType.ValueKind == JsonValueKind.String)
        {
            toolChoice = choiceType.ValueEquals("any"u8) ? ToolChoiceMode.Any
                : choiceType.ValueEquals("tool"u8) ? ToolChoiceMode.Tool
                : choiceType.ValueEquals("none"u8) ? ToolChoiceMode.None
                : choiceType.ValueEquals("auto"u8) ? ToolChoiceMode.Auto
                : ToolChoiceMode.Unspecified;
        }

        var thinking = ThinkingMode.Unspecified;
        if (root.TryGetProperty("thinking", out var thinkingElement) && thinkingElement.ValueKind == JsonValueKind.Object
            && thinkingElement.TryGetProperty("type", out var thinkingType) && thinkingType.ValueKind == JsonValueKind.String)
        {
            thinking = thinkingType.ValueEquals("disabled"u8) ? ThinkingMode.Disabled
                : thinkingType.ValueEquals("enabled"u8) ? ThinkingMode.Manual
                : thinkingType.ValueEquals("adaptive"u8) ? ThinkingMode.Adaptive
                : thinkingType.ValueEquals("between_tools"u8) ? ThinkingMode.BetweenTools
                : ThinkingMode.Other;
        }

        var effort = EffortLevel.Unspecified;
        if (root.TryGetProperty("output_config", out var outputConfig) && outputConfig.ValueKind == JsonValueKind.Object
            && outputConfig.TryGetProperty("effort", out var effortElement) && effortElement.ValueKind == JsonValueKind.String)
        {
            effort = ParseEffort(effortElement);
        }

        var sampling = NonDefault(root, "temperature"u8, 1.0) || Present(root, "top_p"u8) || Present(root, "top_k"u8);

        var prefill = false;
        var carriesThinking = false;
        if (root.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            JsonElement last = default;
            foreach (var message in messages.EnumerateArray())
            {
                last = message;
                if (!carriesThinking && message.ValueKind == JsonValueKind.Object
                    && message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
                {
                    foreach (var block in content.EnumerateArray())
                    {
                        if (block.ValueKind == JsonValueKind.Object && block.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                            && (type.ValueEquals("thinking"u8) || type.ValueEquals("redacted_thinking"u8)))
                        {
                            carriesThinking = true;
                            break;
                        }
                    }
                }
            }

            prefill = last.ValueKind == JsonValueKind.Object && last.TryGetProperty("role", out var role)
                && role.ValueKind == JsonValueKind.String && role.ValueEquals("assistant"u8);
        }

        List<string>? toolTypes = null;
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array)
        {
            foreach (var tool in tools.EnumerateArray())
            {
                // A custom tool has no type or "custom"; a versioned (server or client) tool names its version.
                if (tool.ValueKind == JsonValueKind.Object && tool.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                    && !type.ValueEquals("custom"u8))
                {
                    (toolTypes ??= []).Add(type.GetString()!);
                }
            }
        }

        return new RequestTraits
        {
            ToolChoice = toolChoice,
            Thinking = thinking,
            Effort = effort,
            NonDefaultSampling = sampling,
            TemperatureAndTopP = Present(root, "temperature"u8) && Present(root, "top_p"u8),
            AssistantPrefill = prefill,
            CarriesThinking = carriesThinking,
            InferenceGeo = Present(root, "inference_geo"u8),
            FastMode = root.TryGetProperty("speed"u8, out var speed) && speed.ValueKind == JsonValueKind.String && speed.ValueEquals("fast"u8),
            ToolTypes = toolTypes,
        };
    }

    /// <summary>The <see cref="EffortLevel"/> a wire value names, <see cref="EffortLevel.Other"/> for one ModelMix does not know.</summary>
    /// <param name="value">A JSON string such as <c>"high"</c>.</param>
    public static EffortLevel ParseEffort(JsonElement value) =>
        value.ValueEquals("low"u8) ? EffortLevel.Low
        : value.ValueEquals("medium"u8) ? EffortLevel.Medium
        : value.ValueEquals("high"u8) ? EffortLevel.High
        : value.ValueEquals("xhigh"u8) ? EffortLevel.XHigh
        : value.ValueEquals("max"u8) ? EffortLevel.Max
        : EffortLevel.Other;

    /// <summary>Parses an effort name (<c>low</c>, <c>medium</c>, <c>high</c>, <c>xhigh</c>, <c>max</c>; case-insensitive).</summary>
    /// <param name="name">The name.</param>
    /// <param name="effort">The level; <see cref="EffortLevel.Unspecified"/> when the name is not one.</param>
    public static bool TryParseEffort(string name, out EffortLevel effort)
    {
        ArgumentNullException.ThrowIfNull(name);
        effort = name.Trim().ToLowerInvariant() switch
        {
            "low" => EffortLevel.Low,
            "medium" => EffortLevel.Medium,
            "high" => EffortLevel.High,
            "xhigh" => EffortLevel.XHigh,
            "max" => EffortLevel.Max,
            _ => EffortLevel.Unspecified,
        };
        return effort != EffortLevel.Unspecified;
    }

    /// <summary>The wire name of an effort level (<c>low</c> … <c>max</c>); null for unspecified or unknown.</summary>
    /// <param name="effort">The level.</param>
    public static string? WireName(EffortLevel effort) => effort switch
    {
        EffortLevel.Low => "low",
        EffortLevel.Medium => "medium",
        EffortLevel.High => "high",
        EffortLevel.XHigh => "xhigh",
        EffortLevel.Max => "max",
        _ => null,
    };

    private static bool Present(JsonElement root, ReadOnlySpan<byte> name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null;

    private static bool NonDefault(JsonElement root, ReadOnlySpan<byte> name, double defaultValue) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
        && !(value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && number == defaultValue);
}
