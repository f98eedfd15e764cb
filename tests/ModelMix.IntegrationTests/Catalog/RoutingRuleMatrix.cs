namespace ModelMix.IntegrationTests.Catalog;

/// <summary>
/// The request features some models refuse (from the platform docs, enforced by FakeAnthropic), each as a Messages
/// body for a given model or alias. Shared by the proxy and library matrix tests.
/// </summary>
internal static class RoutingRuleMatrix
{
    private const string User = """{"role":"user","content":"Review the architecture of our billing service."}""";
    private const string Tools = """[{"name":"lookup","description":"Looks a record up.","input_schema":{"type":"object","properties":{"id":{"type":"string"}}}}]""";

    /// <summary>Feature name → the JSON members added to a body (after model and max_tokens).</summary>
    public static readonly IReadOnlyDictionary<string, string> Features = new Dictionary<string, string>
    {
        ["plain"] = $"\"messages\":[{User}]",
        ["forced-any"] = $"\"tools\":{Tools},\"tool_choice\":{{\"type\":\"any\"}},\"messages\":[{User}]",
        ["forced-tool"] = $"\"tools\":{Tools},\"tool_choice\":{{\"type\":\"tool\",\"name\":\"lookup\"}},\"messages\":[{User}]",
        ["thinking-disabled"] = $"\"thinking\":{{\"type\":\"disabled\"}},\"messages\":[{User}]",
        ["thinking-disabled-max"] = $"\"thinking\":{{\"type\":\"disabled\"}},\"output_config\":{{\"effort\":\"max\"}},\"messages\":[{User}]",
        ["thinking-manual"] = $"\"thinking\":{{\"type\":\"enabled\",\"budget_tokens\":1024}},\"messages\":[{User}]",
        ["thinking-adaptive"] = $"\"thinking\":{{\"type\":\"adaptive\"}},\"messages\":[{User}]",
        ["thinking-between-tools"] = $"\"thinking\":{{\"type\":\"between_tools\"}},\"messages\":[{User}]",
        ["temperature"] = $"\"temperature\":0.2,\"messages\":[{User}]",
        ["top-k"] = $"\"top_k\":5,\"messages\":[{User}]",
        ["temperature-and-top-p"] = $"\"temperature\":0.5,\"top_p\":0.9,\"messages\":[{User}]",
        ["effort-low"] = $"\"output_config\":{{\"effort\":\"low\"}},\"messages\":[{User}]",
        ["effort-xhigh"] = $"\"output_config\":{{\"effort\":\"xhigh\"}},\"messages\":[{User}]",
        ["effort-max"] = $"\"output_config\":{{\"effort\":\"max\"}},\"messages\":[{User}]",
        ["prefill"] = $"\"messages\":[{User},{{\"role\":\"assistant\",\"content\":\"The main risk is\"}}]",
        ["computer-20251124"] = $"\"tools\":[{{\"type\":\"computer_20251124\",\"name\":\"computer\",\"display_width_px\":1024,\"display_height_px\":768}}],\"messages\":[{User}]",
        ["computer-20250124"] = $"\"tools\":[{{\"type\":\"computer_20250124\",\"name\":\"computer\",\"display_width_px\":1024,\"display_height_px\":768}}],\"messages\":[{User}]",
        ["images"] = $"\"messages\":[{{\"role\":\"user\",\"content\":[{{\"type\":\"image\",\"source\":{{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}}}},{{\"type\":\"text\",\"text\":\"What is this?\"}}]}}]",
        ["max-tokens-100k"] = $"\"messages\":[{User}]",
        ["fast-mode"] = $"\"speed\":\"fast\",\"messages\":[{User}]",
        ["inference-geo"] = $"\"inference_geo\":\"us\",\"messages\":[{User}]",
        ["forced-and-temperature"] = $"\"tools\":{Tools},\"tool_choice\":{{\"type\":\"any\"}},\"temperature\":0.3,\"messages\":[{User}]",
    };

    /// <summary>A Messages body for <paramref name="model"/> with <paramref name="feature"/>.</summary>
    public static string Body(string model, string feature) =>
        $"{{\"model\":\"{model}\",\"max_tokens\":{(feature == "max-tokens-100k" ? 100_000 : 2048)},{Features[feature]}}}";
}
