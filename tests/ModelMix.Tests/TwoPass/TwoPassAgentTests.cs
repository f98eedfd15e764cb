using Microsoft.Extensions.AI;
using ModelMix.Pipeline;
using ModelMix.Pricing;

namespace ModelMix.Tests.Agent;

public sealed class TwoPassAgentTests
{
    /// <summary>How many times the get_weather tool actually ran in this test (each test class instance is one test).</summary>
    private int _weatherCalls;

    private static ChatResponse Weather(string city, string callId) =>
        ScriptedAgentClient.ToolCall("get_weather", new Dictionary<string, object?> { ["city"] = city }, callId);

    private ChatOptions WithWeatherTool(Func<string, object?>? result = null) => new ChatOptions
    {
        Tools = [AIFunctionFactory.Create((string city) =>
        {
            Interlocked.Increment(ref _weatherCalls);
            return result is null ? $"{city}: 18°C, light rain" : result(city);
        }, "get_weather", "Current weather in a city.")],
    }.WithSessionId("agent-1");

    [Fact]
    public async Task Below_every_trigger_the_cheap_models_answer_stands_and_each_step_is_tagged_as_pass_1()
    {
        var model = new ScriptedAgentClient(() => Weather("Paris", "c1"), () => ScriptedAgentClient.Text("Take the jacket."));
        var agent = new TwoPassAgent(model);

        var result = await agent.RunAsync("Is it jacket weather in Paris?", WithWeatherTool());

        Assert.False(result.Synthesized);
        Assert.Equal(1, result.Passes);
        Assert.Equal(2, result.Steps);
        Assert.Equal(1, result.ToolCalls);
        Assert.Equal(1, _weatherCalls); // the call the cheap model asked for was run, once
        Assert.Equal("Take the jacket.", result.Response.Text);
        Assert.Same(result.ToolLoopResponse, result.Response);
        Assert.Null(result.SynthesisResponse);
        Assert.Equal("no trigger: 1 tool call < 3, largest result ~7 tokens < 4,000, largest result 1 rows < 100", result.SynthesisReason);
        Assert.Equal(2, model.Calls.Count);
        for (var i = 0; i < model.Calls.Count; i++)
        {
            var options = model.Calls[i].Options;
            Assert.Equal("claude-haiku-5-5", options!.ModelId); // the default, tier haiku, is the catalog's Haiku 5.5
            Assert.Equal("two-pass", options.GetPolicy());
            Assert.Equal("pass 1 (tool loop) on haiku", options.GetRoutingReason());
            Assert.Equal(result.RequestId, options.GetRequestId());
            Assert.Equal(i + 1, options.GetAttempt());
            Assert.Equal("agent-1", options.GetSessionId());
        }
    }

    [Fact]
    public async Task Enough_tool_calls_hand_the_final_answer_to_the_strong_model_with_the_tool_results()
    {
        var model = new ScriptedAgentClient(
            () => Weather("Paris", "c1"),
            () => Weather("Lyon", "c2"),
            () => Weather("Nice", "c3"),
            () => Weather("Lille", "c4"),
            () => ScriptedAgentClient.Text("cheap draft"),
            () => ScriptedAgentClient.Text("Opus answer", model: "claude-opus-5-5"));
        var agent = new TwoPassAgent(model, new TwoPassAgentOptions { SynthesisMinToolCalls = 3 });

        var result = await agent.RunAsync("Where in France is it jacket weather?", WithWeatherTool());

        Assert.True(result.Synthesized);
        Assert.Equal(2, result.Passes);
        Assert.Equal(5, result.Steps);
        Assert.Equal(4, result.ToolCalls);
        Assert.Equal(4, _weatherCalls); // Paris, Lyon, Nice and Lille, each run once
        Assert.Equal("4 tool calls ≥ 3", result.SynthesisReason);
        Assert.Equal("Opus answer", result.Response.Text);
        Assert.Same(result.SynthesisResponse, result.Response);

        var (messages, options) = model.Calls[^1];
        Assert.Equal("claude-opus-5-5", options!.ModelId); // the default, tier opus, is the catalog's Opus 5.5
        Assert.Equal("pass 2 (synthesis) on opus: 4 tool calls ≥ 3", options.GetRoutingReason());
        Assert.Equal("two-pass", options.GetPolicy());
        Assert.Equal(6, options.GetAttempt());
        Assert.Equal(result.RequestId, options.GetRequestId());
        Assert.Equal(ChatToolMode.None, options.ToolMode);
        // The conversation, the four calls and their results, the instruction; not the cheap model's draft.
        Assert.Equal(4, messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().Count());
        Assert.DoesNotContain(messages, m => m.Text == "cheap draft");
        Assert.Equal(ChatRole.User, messages[^1].Role);
        Assert.Contains("final answer", messages[^1].Text);
        Assert.Equal(ChatRole.Tool, messages[^2].Role);
    }

    [Fact]
    public async Task A_tool_result_with_many_rows_triggers_synthesis()
    {
        var model = new ScriptedAgentClient(
            () => ScriptedAgentClient.ToolCall("get_weather", new Dictionary<string, object?> { ["city"] = "all" }),
            () => ScriptedAgentClient.Text("cheap"),
            () => ScriptedAgentClient.Text("strong"));
        var agent = new TwoPassAgent(model, new TwoPassAgentOptions { SynthesisMinResultRows = 100 });

        var result = await agent.RunAsync("Weather everywhere?", WithWeatherTool(_ => Enumerable.Range(0, 150).Select(i => new { Station = i, Celsius = 18 }).ToArray()));

        Assert.True(result.Synthesized);
        Assert.Equal(150, result.LargestToolResultRows);
        Assert.Equal(1, _weatherCalls);
        Assert.Equal("get_weather result 150 rows ≥ 100", result.SynthesisReason);
    }

    [Fact]
    public async Task A_large_tool_result_in_estimated_tokens_triggers_synthesis()
    {
        var model = new ScriptedAgentClient(() => Weather("Paris", "c1"), () => ScriptedAgentClient.Text("cheap"), () => ScriptedAgentClient.Text("strong"));
        var agent = new TwoPassAgent(model, new TwoPassAgentOptions { SynthesisMinResultTokens = 1_000, SynthesisMinResultRows = null });

        var result = await agent.RunAsync("Paris report?", WithWeatherTool(_ => new string('x', 7_000)));

        Assert.True(result.Synthesized);
        Assert.Equal(2_000, result.LargestToolResultTokens);
        Assert.Equal(1, _weatherCalls);
        Assert.Equal("get_weather result ~2,000 tokens ≥ 1,000", result.SynthesisReason);
    }

    [Fact]
    public async Task The_caller_can_ask_for_synthesis_without_any_tool_call()
    {
        var model = new ScriptedAgentClient(() => ScriptedAgentClient.Text("cheap"), () => ScriptedAgentClient.Text("strong"));
        var agent = new TwoPassAgent(model, new TwoPassAgentOptions { StrongModel = "claude-sonnet-4-6" });

        var result = await agent.RunAsync([new ChatMessage(ChatRole.User, "Summarise.")], options: null, synthesize: true);

        Assert.True(result.Synthesized);
        Assert.Equal("requested by the caller", result.SynthesisReason);
        Assert.Equal("pass 2 (synthesis) on sonnet: requested by the caller", model.Calls[1].Options.GetRoutingReason());
        Assert.Null(model.Calls[1].Options!.ToolMode);
        Assert.Equal(2, model.Calls[1].Messages.Count); // the prompt and the instruction: no draft
    }

    [Fact]
    public async Task Tier_names_are_resolved_through_the_catalog_and_model_ids_are_sent_as_given()
    {
        var prices = PriceBook.Parse("""{"tiers":{"haiku":"claude-haiku-4-5","opus":"claude-opus-4-6"},"models":[]}""", "tiers.json");
        var model = new ScriptedAgentClient(() => ScriptedAgentClient.Text("cheap"), () => ScriptedAgentClient.Text("strong"));
        var byTier = new TwoPassAgent(model, new TwoPassAgentOptions { Prices = prices });

        await byTier.RunAsync([new ChatMessage(ChatRole.User, "Summarise.")], options: null, synthesize: true);

        Assert.Equal("claude-haiku-4-5", model.Calls[0].Options!.ModelId);
        Assert.Equal("claude-opus-4-6", model.Calls[1].Options!.ModelId);
        Assert.Equal("pass 2 (synthesis) on opus: requested by the caller", model.Calls[1].Options.GetRoutingReason());

        var unpriced = new ScriptedAgentClient(() => ScriptedAgentClient.Text("cheap"));
        await new TwoPassAgent(unpriced, new TwoPassAgentOptions { CheapModel = "claude-newest-9", Prices = prices })
            .RunAsync("Summarise.");
        Assert.Equal("claude-newest-9", unpriced.Calls[0].Options!.ModelId); // not a tier, not priced: sent as given
    }

    [Fact]
    public async Task A_strong_model_that_would_reject_the_call_stands_for_its_fit()
    {
        var model = new ScriptedAgentClient(() => ScriptedAgentClient.Text("cheap"), () => ScriptedAgentClient.Text("strong"));
        var agent = new TwoPassAgent(model, new TwoPassAgentOptions { CheapModel = "claude-haiku-4-5", StrongModel = "claude-opus-5-5" });

        // Opus 5.5 (and Opus 5) accept only the default sampling parameters: a temperature moves pass 2 to a model that takes it.
        await agent.RunAsync([new ChatMessage(ChatRole.User, "Summarise.")], new ChatOptions { Temperature = 0.3f }, synthesize: true);

        Assert.Equal("claude-haiku-4-5", model.Calls[0].Options!.ModelId); // Haiku 4.5 takes a temperature: pass 1 unchanged
        Assert.Equal("claude-opus-4-6", model.Calls[1].Options!.ModelId);
        Assert.Contains("claude-opus-5-5 skipped (rejects non-default temperature/top_p/top_k)", model.Calls[1].Options.GetRoutingReason(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_tool_loop_stops_at_the_step_cap_and_synthesis_writes_the_answer()
    {
        var counter = 0;
        var model = new ScriptedAgentClient(() => Weather("Paris", $"c{++counter}"));
        var agent = new TwoPassAgent(model, new TwoPassAgentOptions { MaxSteps = 2, SynthesisMinToolCalls = null, SynthesisMinResultRows = null, SynthesisMinResultTokens = null });

        var result = await agent.RunAsync("Loop forever?", WithWeatherTool());

        // Two rounds of tool calls, then one call with the tools withdrawn, then synthesis.
        Assert.Equal(3, result.Steps);
        Assert.Equal(2, result.ToolCalls);
        Assert.Equal(2, _weatherCalls); // the third step's call came with the tools withdrawn: never run
        Assert.Null(model.Calls[2].Options!.Tools);
        Assert.Equal(4, model.Calls.Count);
        Assert.True(result.Synthesized);
        Assert.Equal("step cap 2 reached", result.SynthesisReason);
        // The unanswered tool call of the last step is not sent to the strong model.
        var sent = model.Calls[^1].Messages.SelectMany(m => m.Contents).ToList();
        Assert.Equal(sent.OfType<FunctionCallContent>().Count(), sent.OfType<FunctionResultContent>().Count());
    }

    [Fact]
    public async Task A_request_id_given_by_the_caller_is_kept_for_every_call()
    {
        var model = new ScriptedAgentClient(() => ScriptedAgentClient.Text("cheap"));
        var agent = new TwoPassAgent(model);

        var result = await agent.RunAsync("hi", new ChatOptions().WithRequestId("req-42"));

        Assert.Equal("req-42", result.RequestId);
        Assert.Equal("req-42", model.Calls[0].Options.GetRequestId());
    }

    [Fact]
    public async Task The_callers_options_are_not_changed()
    {
        var model = new ScriptedAgentClient(() => ScriptedAgentClient.Text("cheap"), () => ScriptedAgentClient.Text("strong"));
        var options = new ChatOptions { ModelId = "claude-sonnet-4-6" };

        await new TwoPassAgent(model).RunAsync([new ChatMessage(ChatRole.User, "hi")], options, synthesize: true);

        Assert.Equal("claude-sonnet-4-6", options.ModelId);
        Assert.Null(options.GetPolicy());
        Assert.Null(options.GetAttempt());
    }

    [Theory]
    [InlineData(0, nameof(TwoPassAgentOptions.MaxSteps))]
    [InlineData(1, nameof(TwoPassAgentOptions.SynthesisMinToolCalls))]
    [InlineData(2, nameof(TwoPassAgentOptions.CheapModel))]
    public void Invalid_options_fail_naming_the_option(int which, string name)
    {
        var options = new TwoPassAgentOptions();
        switch (which)
        {
            case 0: options.MaxSteps = 0; break;
            case 1: options.SynthesisMinToolCalls = 0; break;
            case 2: options.CheapModel = " "; break;
        }

        var error = Assert.ThrowsAny<ArgumentException>(() => new TwoPassAgent(new ScriptedAgentClient(), options));
        Assert.Equal(name, error.ParamName);
    }

    [Theory]
    [InlineData("[1,2,3]", 3)]
    [InlineData("{\"rows\":[1,2],\"more\":[1,2,3,4]}", 4)]
    [InlineData("a,b\n1,2\n3,4\n", 3)]
    [InlineData("", 0)]
    public void Rows_are_json_array_elements_or_text_lines(string result, int rows) =>
        Assert.Equal(rows, TwoPassToolResults.Size(result).Rows);
}
