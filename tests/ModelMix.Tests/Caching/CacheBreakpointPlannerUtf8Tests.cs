using System.Text;
using System.Text.Json.Nodes;
using ModelMix.Caching;
using ModelMix.Pricing;
using static ModelMix.Tests.Caching.Requests;

namespace ModelMix.Tests.Caching;

public sealed class CacheBreakpointPlannerUtf8Tests
{
    private const string Sonnet45 = "claude-sonnet-4-5";

    private static readonly CacheBreakpointPlanner s_planner = new(PriceBook.Default);

    private static string PrettyRequest() => $$$"""
        {
          "model": "claude-sonnet-4-5",
          "max_tokens": 1024,
          "x_future_field": {"keep": [1, 2.50, true, null]},
          "tools": [
            {"name": "t", "description": "{{{Text(1_300)}}}", "input_schema": {"type": "object"}}
          ],
          "system": "{{{Text(300)}}} caf\u00e9 \"quoted\"",
          "messages": [
            {"role": "user", "content": [
              {"type": "text", "text": "first"},
              {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
            ]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"}, {"type": "text", "text": "ok"}]},
            {"role": "user", "content": "latest"}
          ]
        }
        """;

    [Fact]
    public void Byte_faithful_variant_agrees_with_the_json_variant()
    {
        var text = PrettyRequest();

        var result = s_planner.ApplyUtf8(Encoding.UTF8.GetBytes(text), Sonnet45);
        var viaNode = JsonNode.Parse(text)!;
        var plan = s_planner.Apply(viaNode, Sonnet45);

        Assert.Equal(plan.Added.Select(b => b.Path), result.Plan.Added.Select(b => b.Path));
        Assert.Equal(["tools[0]", "system[0]", "messages[0].content[1]"], result.Plan.Added.Select(b => b.Path));
        Assert.Equal(viaNode.ToJsonString(), JsonNode.Parse(result.Body.Span)!.ToJsonString());
    }

    [Fact]
    public void Byte_faithful_variant_only_inserts_and_keeps_formatting_escapes_and_unknown_fields()
    {
        var text = PrettyRequest();

        var output = Encoding.UTF8.GetString(s_planner.ApplyUtf8(Encoding.UTF8.GetBytes(text), Sonnet45).Body.Span);

        const string Member = ",\"cache_control\":{\"type\":\"ephemeral\"}";
        var systemStart = text.IndexOf("\"system\": ", StringComparison.Ordinal) + "\"system\": ".Length;
        var systemEnd = text.IndexOf(",\n  \"messages\"", StringComparison.Ordinal);
        var originalSystem = text[systemStart..systemEnd];
        Assert.Contains($"[{{\"type\":\"text\",\"text\":{originalSystem}{Member}}}]", output, StringComparison.Ordinal);
        Assert.Contains("\\u00e9 \\\"quoted\\\"", output, StringComparison.Ordinal);

        // Removing the inserted members and the wrapper gives back the original bytes exactly.
        var restored = output
            .Replace($"[{{\"type\":\"text\",\"text\":{originalSystem}{Member}}}]", originalSystem, StringComparison.Ordinal)
            .Replace(Member, "", StringComparison.Ordinal);
        Assert.Equal(text, restored);
    }

    [Fact]
    public void Byte_faithful_variant_returns_the_original_memory_when_nothing_changes()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"model":"claude-haiku-4-5","system":"short","messages":[{"role":"user","content":"hi"}]}""");

        var result = s_planner.ApplyUtf8(bytes, "claude-haiku-4-5");

        Assert.False(result.Plan.Changed);
        Assert.True(result.Body.Span == bytes.AsSpan());
    }

    [Fact]
    public void Byte_faithful_variant_wraps_string_content_and_writes_one_hour_ttl()
    {
        var planner = new CacheBreakpointPlanner(PriceBook.Default, new PromptCachingOptions { Ttl = PromptCacheTtl.OneHour });
        var json = $$"""{"messages":[{"role":"user","content":"{{Text(1_200)}}"},{"role":"assistant","content":"A"},{"role":"user","content":"B"}]}""";

        var result = planner.ApplyUtf8(Encoding.UTF8.GetBytes(json), Sonnet45);

        var body = JsonNode.Parse(result.Body.Span)!;
        var block = Assert.Single(body["messages"]![0]!["content"]!.AsArray())!;
        Assert.Equal(Text(1_200), (string?)block["text"]);
        Assert.Equal("""{"type":"ephemeral","ttl":"1h"}""", block["cache_control"]!.ToJsonString());
        Assert.Equal("A", (string?)body["messages"]![1]!["content"]);
    }

    [Fact]
    public void Byte_faithful_planning_twice_adds_nothing_the_second_time()
    {
        var once = s_planner.ApplyUtf8(Encoding.UTF8.GetBytes(PrettyRequest()), Sonnet45);

        var twice = s_planner.ApplyUtf8(once.Body, Sonnet45);

        Assert.False(twice.Plan.Changed);
        Assert.True(twice.Body.Span.SequenceEqual(once.Body.Span));
    }

    [Fact]
    public void Duplicate_property_names_throw_CachePlanningException()
    {
        var json = """{"system":"a","system":"b","messages":[{"role":"user","content":"hi"}]}""";

        Assert.Throws<CachePlanningException>(() => s_planner.ApplyUtf8(Encoding.UTF8.GetBytes(json), Sonnet45));
    }
}
