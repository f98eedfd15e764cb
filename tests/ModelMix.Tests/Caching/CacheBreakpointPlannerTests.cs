using System.Text;
using System.Text.Json.Nodes;
using ModelMix.Caching;
using ModelMix.Pricing;
using ModelMix.Tests.Pricing;
using static ModelMix.Tests.Caching.Requests;

namespace ModelMix.Tests.Caching;

public sealed class CacheBreakpointPlannerTests
{
    private const string Sonnet45 = "claude-sonnet-4-5";
    private const string Haiku45 = "claude-haiku-4-5";
    private const string FixturePath = "messages/request-with-system-tools-cache-control.json";

    private static CacheBreakpointPlanner Planner(PromptCachingOptions? options = null) => new(PriceBook.Default, options);

    private static JsonObject Fixture() => JsonNode.Parse(SharedFixtures.ReadAnthropic(FixturePath))!.AsObject();

    [Fact]
    public void Fixture_request_keeps_the_callers_two_breakpoints_and_duplicates_none()
    {
        var body = Fixture();

        var plan = Planner().Apply(body, Sonnet45);

        Assert.Equal(["system[0]", "system[1]"], plan.Existing.Select(b => b.Path));
        Assert.Equal([PromptCacheTtl.OneHour, PromptCacheTtl.FiveMinutes], plan.Existing.Select(b => b.Ttl));
        Assert.All(plan.Existing, b => Assert.True(b.SetByCaller));
        Assert.Empty(plan.Added);
        Assert.Equal(2, CacheControls(body).Count);
        Assert.Contains(plan.Skipped, s => s.Contains("system[1]) already has the caller's breakpoint", StringComparison.Ordinal));
        Assert.Contains(plan.Skipped, s => s.StartsWith("last tool (tools[1])", StringComparison.Ordinal));
    }

    [Fact]
    public void Fixture_with_full_texts_and_a_second_turn_gets_at_most_two_more_breakpoints()
    {
        var body = Fixture();
        body["system"]![0]!["text"] = Text(2_200);
        body["system"]![1]!["text"] = Text(3_150);
        body["messages"]!.AsArray().Add(Assistant("It is 22 C in Paris, so yes."));
        body["messages"]!.AsArray().Add(User("And in Oslo?"));

        var plan = Planner().Apply(body, Sonnet45);

        var added = Assert.Single(plan.Added);
        Assert.Equal("messages[0].content[0]", added.Path);
        Assert.Equal(CacheBreakpointLocation.Messages, added.Location);
        Assert.False(added.SetByCaller);
        Assert.True(plan.Existing.Count + plan.Added.Count <= 4);
        Assert.Equal(3, CacheControls(body).Count);
        Assert.Equal(added.PrefixTokens, plan.EstimatedCachedPrefixTokens);
        Assert.True(plan.EstimatedCachedPrefixTokens > 5_350);

        // The two tool definitions alone are far below Sonnet 4.5's 1,024-token minimum.
        Assert.Contains(plan.Skipped, s => s.StartsWith("last tool (tools[1]): prefix ~", StringComparison.Ordinal));
        Assert.Equal("Is it warm enough in Paris today for the linen field jacket?", (string?)body["messages"]![0]!["content"]![0]!["text"]);
    }

    [Fact]
    public void Long_system_prompt_on_Sonnet_4_5_gets_one_breakpoint_and_becomes_one_block()
    {
        var system = Text(1_500);
        var body = Body(Sonnet45, system, User("Hello"));

        var plan = Planner().Apply(body, Sonnet45);

        var added = Assert.Single(plan.Added);
        Assert.Equal("system[0]", added.Path);
        Assert.Equal(1_500, added.PrefixTokens);
        Assert.Equal(1_024, plan.MinCacheableTokens);
        var block = Assert.Single(body["system"]!.AsArray())!.AsObject();
        Assert.Equal("text", (string?)block["type"]);
        Assert.Equal(system, (string?)block["text"]);
        Assert.Equal("""{"type":"ephemeral"}""", block["cache_control"]!.ToJsonString());
    }

    [Fact]
    public void Long_system_prompt_on_Haiku_4_5_below_4096_gets_none_and_says_why()
    {
        var body = Body(Haiku45, Text(1_500), User("Hello"));
        var before = body.ToJsonString();

        var plan = Planner().Apply(body, Haiku45);

        Assert.Empty(plan.Added);
        Assert.False(plan.Changed);
        Assert.Equal(4_096, plan.MinCacheableTokens);
        Assert.Equal(0, plan.EstimatedCachedPrefixTokens);
        Assert.Contains("last system block (system[0]): prefix ~1,500 tokens < 4,096 minimum for claude-haiku-4-5", plan.Skipped);
        Assert.Equal(before, body.ToJsonString());
    }

    [Theory]
    [InlineData("claude-sonnet-4-5", 1_100, true)]
    [InlineData("claude-3-5-haiku-latest", 1_100, false)]
    [InlineData("claude-3-5-haiku-latest", 2_100, true)]
    [InlineData("claude-opus-4-5-20251101", 4_000, false)]
    [InlineData("claude-opus-4-5-20251101", 4_200, true)]
    public void Minimum_cacheable_length_comes_from_the_price_book_per_model(string model, int systemTokens, bool cached)
    {
        var body = Body(model, Text(systemTokens), User("Hi"));

        var plan = Planner().Apply(body, model);

        Assert.Equal(cached, plan.Changed);
    }

    [Fact]
    public void Routed_model_decides_not_the_body_model()
    {
        var body = Body(Haiku45, Text(1_500), User("Hello"));

        var plan = Planner().Apply(body, Sonnet45);

        Assert.Single(plan.Added);
        Assert.Equal(Sonnet45, plan.Model);
    }

    [Fact]
    public void Multi_turn_conversation_marks_the_last_block_of_the_second_to_last_user_turn()
    {
        var body = Body(
            Sonnet45,
            Text(1_200),
            User(Text(300)),
            Assistant("First answer."),
            new JsonObject
            {
                ["role"] = "user",
                ["content"] = new JsonArray(
                    new JsonObject { ["type"] = "text", ["text"] = "Here is more context." },
                    new JsonObject { ["type"] = "text", ["text"] = Text(200) }),
            },
            Assistant("Second answer."),
            User("Latest question?"));

        var plan = Planner().Apply(body, Sonnet45);

        Assert.Equal(["system[0]", "messages[2].content[1]"], plan.Added.Select(b => b.Path));
        Assert.NotNull(body["messages"]![2]!["content"]![1]!["cache_control"]);
        Assert.Null(body["messages"]![2]!["content"]![0]!["cache_control"]);
        Assert.Equal(System.Text.Json.JsonValueKind.String, JsonValueKindOf(body["messages"]![4]!["content"]));
        Assert.True(plan.Added[1].PrefixTokens > plan.Added[0].PrefixTokens);
        Assert.Equal(plan.Added[1].PrefixTokens, plan.EstimatedCachedPrefixTokens);
    }

    [Fact]
    public void Single_user_turn_gets_no_conversation_breakpoint()
    {
        var body = Body(Sonnet45, Text(1_200), User(Text(3_000)));

        var plan = Planner().Apply(body, Sonnet45);

        Assert.Equal(["system[0]"], plan.Added.Select(b => b.Path));
    }

    [Fact]
    public void String_content_of_the_marked_turn_becomes_one_text_block()
    {
        var body = Body(Sonnet45, null, User(Text(1_300)), Assistant("Ok."), User("Next?"));

        var plan = Planner().Apply(body, Sonnet45);

        Assert.Equal("messages[0].content[0]", Assert.Single(plan.Added).Path);
        var block = Assert.Single(body["messages"]![0]!["content"]!.AsArray())!;
        Assert.Equal(Text(1_300), (string?)block["text"]);
        Assert.NotNull(block["cache_control"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" \n\t")]
    public void An_empty_or_blank_string_is_never_turned_into_a_marked_text_block_in_either_variant(string blank)
    {
        // The API refuses an empty text block ("text content blocks must be non-empty") and a lone whitespace-only one
        // ("text content blocks must contain non-whitespace text"), so wrapping such a string to mark it would turn a
        // valid request into a 400. The long tools before it still get their breakpoint.
        JsonObject Request()
        {
            var body = Body(Sonnet45, JsonValue.Create(blank), User(blank), Assistant("Ok."), User("Next?"));
            body["tools"] = new JsonArray(Tool("get_weather", 1_300));
            return body;
        }

        var body = Request();
        var plan = Planner().Apply(body, Sonnet45);
        var utf8 = Planner().ApplyUtf8(Encoding.UTF8.GetBytes(Request().ToJsonString()), Sonnet45);

        Assert.Equal(["tools[0]"], plan.Added.Select(b => b.Path));
        Assert.Equal(["tools[0]"], utf8.Plan.Added.Select(b => b.Path));
        Assert.Equal(blank, (string?)body["system"]);
        Assert.Equal(blank, (string?)body["messages"]![0]!["content"]);
        Assert.Equal(body.ToJsonString(), JsonNode.Parse(utf8.Body.Span)!.ToJsonString());
        Assert.Contains(plan.Skipped, s => s == "last system block (system[0]) is an empty or whitespace-only string, which the API refuses as a text block (so it cannot carry a breakpoint)");
        Assert.Contains(plan.Skipped, s => s.StartsWith("second-to-last user turn (messages[0].content[0]) is an empty or whitespace-only string", StringComparison.Ordinal));
    }

    [Fact]
    public void Tools_get_a_breakpoint_on_the_last_tool_when_long_enough()
    {
        var body = Body(Sonnet45, null, User("What is the weather?"));
        body["tools"] = new JsonArray(Tool("get_weather", 700), Tool("lookup_order", 700));

        var plan = Planner().Apply(body, Sonnet45);

        var added = Assert.Single(plan.Added);
        Assert.Equal("tools[1]", added.Path);
        Assert.Equal(CacheBreakpointLocation.Tools, added.Location);
        Assert.NotNull(body["tools"]![1]!["cache_control"]);
        Assert.Null(body["tools"]![0]!["cache_control"]);
    }

    [Fact]
    public void Short_tools_before_a_long_system_prompt_are_left_out_with_the_reason()
    {
        var body = Body(Sonnet45, Text(1_500), User("Hi"));
        body["tools"] = new JsonArray(Tool("get_weather", 20));

        var plan = Planner().Apply(body, Sonnet45);

        Assert.Equal(["system[0]"], plan.Added.Select(b => b.Path));
        Assert.Contains(plan.Skipped, s => s.StartsWith("last tool (tools[0]): prefix ~", StringComparison.Ordinal)
            && s.EndsWith("< 1,024 minimum for claude-sonnet-4-5", StringComparison.Ordinal));
    }

    [Fact]
    public void One_hour_ttl_is_written_and_every_added_breakpoint_uses_it()
    {
        var body = Body(Sonnet45, Text(1_500), User(Text(100)), Assistant("A"), User("B"));
        body["tools"] = new JsonArray(Tool("t", 1_300));

        var plan = Planner(new PromptCachingOptions { Ttl = PromptCacheTtl.OneHour }).Apply(body, Sonnet45);

        Assert.Equal(["tools[0]", "system[0]", "messages[0].content[0]"], plan.Added.Select(b => b.Path));
        Assert.All(plan.Added, b => Assert.Equal(PromptCacheTtl.OneHour, b.Ttl));
        Assert.All(CacheControls(body), c => Assert.Equal("""{"type":"ephemeral","ttl":"1h"}""", c.ToJsonString()));
    }

    [Fact]
    public void One_hour_breakpoints_are_never_placed_after_a_callers_five_minute_one()
    {
        var body = Body(Sonnet45, null, User(Text(1_500)), Assistant("A"), User("B"));
        body["system"] = new JsonArray(new JsonObject
        {
            ["type"] = "text",
            ["text"] = Text(1_200),
            ["cache_control"] = new JsonObject { ["type"] = "ephemeral" },
        });
        body["tools"] = new JsonArray(Tool("t", 1_300));

        var plan = Planner(new PromptCachingOptions { Ttl = PromptCacheTtl.OneHour }).Apply(body, Sonnet45);

        Assert.Equal(["tools[0]"], plan.Added.Select(b => b.Path));
        Assert.Contains(plan.Skipped, s => s.Contains("after the caller's 5m breakpoint at system[0]", StringComparison.Ordinal));
        Assert.Equal(System.Text.Json.JsonValueKind.String, JsonValueKindOf(body["messages"]![0]!["content"]));
    }

    [Fact]
    public void Five_minute_breakpoints_are_never_placed_before_a_callers_one_hour_one()
    {
        var body = Body(Sonnet45, Text(1_500), User(Text(100)), Assistant("A"), User("B"));
        body["messages"]![0]!["content"] = new JsonArray(new JsonObject
        {
            ["type"] = "text",
            ["text"] = "prior turn",
            ["cache_control"] = new JsonObject { ["type"] = "ephemeral", ["ttl"] = "1h" },
        });

        var plan = Planner().Apply(body, Sonnet45);

        Assert.Empty(plan.Added);
        Assert.Contains(plan.Skipped, s => s.Contains("before the caller's 1h breakpoint at messages[0].content[0]", StringComparison.Ordinal));
    }

    [Fact]
    public void Never_more_than_four_breakpoints_counting_the_callers_and_the_longest_prefix_wins()
    {
        static JsonObject Marked(string role, string text) => new()
        {
            ["role"] = role,
            ["content"] = new JsonArray(new JsonObject
            {
                ["type"] = "text",
                ["text"] = text,
                ["cache_control"] = new JsonObject { ["type"] = "ephemeral" },
            }),
        };

        var body = Body(
            Sonnet45,
            Text(1_500),
            Marked("user", "one"),
            Marked("assistant", "two"),
            User(Text(50)),
            Assistant("three"),
            Marked("user", "four"));
        body["tools"] = new JsonArray(Tool("t", 1_300));

        var plan = Planner().Apply(body, Sonnet45);

        Assert.Equal(3, plan.Existing.Count);
        Assert.Equal(["messages[2].content[0]"], plan.Added.Select(b => b.Path));
        Assert.Equal(4, CacheControls(body).Count);
        Assert.Equal(2, plan.Skipped.Count(s => s.Contains("the cap of 4 breakpoints is reached (3 set by the caller)", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_lower_configured_cap_is_respected()
    {
        var body = Body(Sonnet45, Text(1_500), User(Text(100)), Assistant("A"), User("B"));
        body["tools"] = new JsonArray(Tool("t", 1_300));

        var plan = Planner(new PromptCachingOptions { MaxBreakpoints = 1 }).Apply(body, Sonnet45);

        Assert.Equal(["messages[0].content[0]"], plan.Added.Select(b => b.Path));
        Assert.Single(CacheControls(body));
    }

    [Fact]
    public void A_request_already_over_the_cap_is_left_alone()
    {
        var body = Body(Sonnet45, null, User(Text(1_500)), Assistant("A"), User("B"));
        var blocks = new JsonArray();
        for (var i = 0; i < 5; i++)
        {
            blocks.Add(new JsonObject
            {
                ["type"] = "text",
                ["text"] = Text(300),
                ["cache_control"] = new JsonObject { ["type"] = "ephemeral" },
            });
        }

        body["system"] = blocks;

        var plan = Planner().Apply(body, Sonnet45);

        Assert.Empty(plan.Added);
        Assert.Equal(5, CacheControls(body).Count);
    }

    [Fact]
    public void Options_choose_where_breakpoints_may_go()
    {
        var body = Body(Sonnet45, Text(1_500), User(Text(100)), Assistant("A"), User("B"));
        body["tools"] = new JsonArray(Tool("t", 1_300));

        var plan = Planner(new PromptCachingOptions { CacheTools = false, CacheConversation = false }).Apply(body, Sonnet45);

        Assert.Equal(["system[0]"], plan.Added.Select(b => b.Path));
    }

    [Fact]
    public void Planning_twice_adds_nothing_the_second_time()
    {
        var body = Body(Sonnet45, Text(1_500), User(Text(100)), Assistant("A"), User("B"));
        body["tools"] = new JsonArray(Tool("t", 1_300));
        var planner = Planner();

        var first = planner.Apply(body, Sonnet45);
        var afterFirst = body.ToJsonString();
        var second = planner.Apply(body, Sonnet45);

        Assert.Equal(3, first.Added.Count);
        Assert.Empty(second.Added);
        Assert.Equal(first.Added.Select(b => b.Path), second.Existing.Select(b => b.Path));
        Assert.Equal(afterFirst, body.ToJsonString());
        Assert.Equal(first.EstimatedCachedPrefixTokens, second.EstimatedCachedPrefixTokens);
    }

    [Fact]
    public void Unknown_model_changes_nothing_and_says_why()
    {
        var body = Body("claude-future-9", Text(5_000), User("Hi"));

        var plan = Planner().Apply(body, "claude-future-9");

        Assert.Empty(plan.Added);
        Assert.Null(plan.MinCacheableTokens);
        Assert.Contains(plan.Skipped, s => s.Contains("claude-future-9 is not in the price book", StringComparison.Ordinal));
    }

    [Fact]
    public void Model_without_a_known_minimum_changes_nothing_and_says_why()
    {
        var body = Body("claude-3-sonnet-20240229", Text(5_000), User("Hi"));

        var plan = Planner().Apply(body, "claude-3-sonnet-20240229");

        Assert.Empty(plan.Added);
        Assert.Contains(plan.Skipped, s => s.Contains("minimum cacheable length of claude-3-sonnet-20240229 is unknown", StringComparison.Ordinal));
    }

    [Fact]
    public void Top_level_automatic_cache_control_is_left_to_the_api()
    {
        var body = Body(Sonnet45, Text(5_000), User("Hi"));
        body["cache_control"] = new JsonObject { ["type"] = "ephemeral" };

        var plan = Planner().Apply(body, Sonnet45);

        Assert.Empty(plan.Added);
        Assert.Single(plan.Skipped);
    }

    [Theory]
    [InlineData("""[1, 2]""", "request body must be a JSON object")]
    [InlineData("""{"model":"m"}""", "no 'messages' array")]
    [InlineData("""{"messages":{}}""", "'messages' must be an array")]
    [InlineData("""{"messages":[7]}""", "'messages[0]' must be an object")]
    [InlineData("""{"messages":[{"role":"user","content":5}]}""", "'messages[0].content' must be a string or an array")]
    [InlineData("""{"messages":[{"role":"user","content":["x"]}]}""", "'messages[0].content[0]' must be an object")]
    [InlineData("""{"tools":{},"messages":[]}""", "'tools' must be an array")]
    [InlineData("""{"system":42,"messages":[]}""", "'system' must be a string or an array")]
    [InlineData("""{"system":[{"type":"text","text":"a","cache_control":"yes"}],"messages":[]}""", "'system[0].cache_control' must be an object")]
    [InlineData("""{"system":[{"type":"text","text":"a","cache_control":{"type":"ephemeral","ttl":"2h"}}],"messages":[]}""", "'system[0].cache_control.ttl'")]
    public void Malformed_requests_throw_CachePlanningException_naming_the_path(string json, string expected)
    {
        var body = JsonNode.Parse(json)!;

        var ex = Assert.Throws<CachePlanningException>(() => Planner().Apply(body, Sonnet45));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        var utf8 = Assert.Throws<CachePlanningException>(() => Planner().ApplyUtf8(Encoding.UTF8.GetBytes(json), Sonnet45));
        Assert.Equal(ex.Message, utf8.Message);
    }

    [Theory]
    [InlineData("{\"messages\": [")]
    [InlineData("null")]
    [InlineData("")]
    public void Bytes_that_are_not_a_json_object_throw_CachePlanningException(string text) =>
        Assert.Throws<CachePlanningException>(() => Planner().ApplyUtf8(Encoding.UTF8.GetBytes(text), Sonnet45));

    [Fact]
    public void Max_breakpoints_outside_zero_to_four_is_rejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Planner(new PromptCachingOptions { MaxBreakpoints = 5 }));

    [Fact]
    public void Fixture_bytes_come_back_unchanged_when_nothing_is_added()
    {
        var bytes = File.ReadAllBytes(SharedFixtures.Anthropic(FixturePath));

        var result = Planner().ApplyUtf8(bytes, Sonnet45);

        Assert.False(result.Plan.Changed);
        Assert.Equal(2, result.Plan.Existing.Count);
        Assert.True(result.Body.Span.SequenceEqual(bytes));
    }

    [Fact]
    public void An_empty_last_system_block_cannot_carry_a_breakpoint()
    {
        var body = Body(Sonnet45, new JsonArray(
            new JsonObject { ["type"] = "text", ["text"] = Text(1_500) },
            new JsonObject { ["type"] = "text", ["text"] = "" }), User("Hi"));

        var plan = Planner().Apply(body, Sonnet45);

        Assert.Empty(plan.Added);
        Assert.Contains(plan.Skipped, s => s.StartsWith("last system block (system[1]) is an empty or thinking block", StringComparison.Ordinal));
    }

    [Fact]
    public void Breakpoints_inside_tool_results_count_towards_the_cap()
    {
        var toolResult = new JsonObject
        {
            ["role"] = "user",
            ["content"] = new JsonArray(new JsonObject
            {
                ["type"] = "tool_result",
                ["tool_use_id"] = "toolu_1",
                ["content"] = new JsonArray(
                    new JsonObject { ["type"] = "text", ["text"] = "a", ["cache_control"] = new JsonObject { ["type"] = "ephemeral" } },
                    new JsonObject { ["type"] = "text", ["text"] = "b", ["cache_control"] = new JsonObject { ["type"] = "ephemeral" } },
                    new JsonObject { ["type"] = "text", ["text"] = "c", ["cache_control"] = new JsonObject { ["type"] = "ephemeral" } }),
            }),
        };
        var body = Body(Sonnet45, Text(1_500), User(Text(100)), Assistant("calling"), toolResult, Assistant("A"), User("B"));

        var plan = Planner().Apply(body, Sonnet45);

        Assert.Equal(3, plan.Existing.Count);
        Assert.Equal(["messages[2].content[0]"], plan.Added.Select(b => b.Path));
        Assert.Equal(4, CacheControls(body).Count);
    }

    private static System.Text.Json.JsonValueKind JsonValueKindOf(JsonNode? node) => node!.GetValueKind();
}
