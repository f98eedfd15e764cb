using System.Net;
using System.Text;
using ModelMix.Ledger;

namespace ModelMix.Server.Tests;

/// <summary>The steps before and around the send: the body reader, the loop-guard gate and the cooldown/fallback step.</summary>
public sealed class GateTests
{
    private const string Sonnet = "claude-sonnet-4-5";
    private const string Haiku = "claude-haiku-4-5";

    /// <summary>The chain names models by alias; the fallback goes to the catalog id (prices.json).</summary>
    private const string HaikuId = "claude-haiku-4-5-20251001";

    [Fact]
    public async Task The_body_reader_reads_a_declared_body_exactly_and_answers_413_past_the_limit()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?> { ["ModelMix:MaxRequestBodyBytes"] = "2048" });
        var reader = proxy.Get<ProxyRequestReader>();
        var small = Encoding.UTF8.GetBytes("{\"model\":\"x\"}");
        var large = new byte[2049];

        Assert.Equal(small, await reader.ReadBodyAsync(proxy.NewContext(small), AnthropicDialect.Instance));
        Assert.Equal(small, await reader.ReadBodyAsync(proxy.NewContext(small, declareLength: false), AnthropicDialect.Instance));

        var declared = proxy.NewContext(large);
        Assert.Null(await reader.ReadBodyAsync(declared, AnthropicDialect.Instance));
        Assert.Equal(413, declared.Response.StatusCode);
        Assert.Contains("maximum allowed number of bytes (2048)", ProxyHarness.ResponseText(declared), StringComparison.Ordinal);

        var undeclared = proxy.NewContext(large, declareLength: false); // chunked: the limit is found while reading
        Assert.Null(await reader.ReadBodyAsync(undeclared, AnthropicDialect.Instance));
        Assert.Equal(413, undeclared.Response.StatusCode);
    }

    [Fact]
    public async Task The_body_reader_forwards_the_clients_version_else_the_default_and_a_query_only_when_there_is_one()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?> { ["ModelMix:DefaultAnthropicVersion"] = "2023-01-01" });
        var reader = proxy.Get<ProxyRequestReader>();
        var plain = proxy.NewContext();
        var versioned = proxy.NewContext(query: "?beta=true");
        versioned.Request.Headers["anthropic-version"] = "2026-10-21";

        Assert.Equal("2023-01-01", reader.AnthropicVersionOf(plain));
        Assert.Equal("2026-10-21", reader.AnthropicVersionOf(versioned));
        Assert.Null(ProxyRequestReader.QueryOf(plain));
        Assert.Equal("?beta=true", ProxyRequestReader.QueryOf(versioned));
    }

    [Fact]
    public async Task The_loop_guard_gate_lets_a_session_through_to_its_step_limit_then_answers_400_and_records_the_stop()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?> { ["ModelMix:LoopGuard:MaxStepsPerSession"] = "1" });
        var gate = proxy.Get<LoopGuardGate>();
        var body = Wire.Request(Haiku);
        Assert.True(MessagesRequest.TryParse(body, out var request, out _));
        var route = new Route(Haiku, "passthrough", "the caller named a model");
        var caller = AuthCaller.Anonymous;
        var first = proxy.NewContext(body);
        var second = proxy.NewContext(body);

        Assert.False(await gate.TripsAsync(first, "req_step1", request!, route, AnthropicDialect.Instance, caller, "session-a", null, body));
        Assert.True(await gate.TripsAsync(second, "req_step2", request!, route, AnthropicDialect.Instance, caller, "session-a", null, body));

        Assert.Equal(200, first.Response.StatusCode); // nothing written: the pipeline goes on
        Assert.Equal(400, second.Response.StatusCode);
        Assert.Contains("step limit", ProxyHarness.ResponseText(second), StringComparison.Ordinal);
        var stop = Assert.Single(await proxy.RecordsAsync("req_step2"));
        Assert.Equal((LedgerStatus.Error, ProxyLoopGuard.ErrorType, "session-a"), (stop.Status, stop.ErrorType, stop.SessionId));
        Assert.Equal(0m, stop.Cost!.Value.Total); // a stop is recorded at no cost
        Assert.Empty(await proxy.RecordsAsync("req_step1"));
    }

    [Fact]
    public async Task The_fallback_step_moves_a_call_that_still_fails_to_the_chains_next_model_with_its_body_repointed()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?>
        {
            ["ModelMix:Fallback:MaxRetriesPerModel"] = "0",
            ["ModelMix:Fallback:Chain:0"] = Sonnet,
            ["ModelMix:Fallback:Chain:1"] = Haiku,
        });
        proxy.Upstream.Answer((HttpStatusCode)529, Wire.Error("overloaded_error", "Overloaded"));
        proxy.Upstream.Answer(HttpStatusCode.OK, Wire.Message(Haiku));
        var body = Wire.Request(Sonnet);
        var context = proxy.NewContext(body);
        var call = proxy.NewCall(context, body, Sonnet, out _, requestId: "req_fallback");

        var (last, result) = await proxy.Get<FallbackSender>().SendAsync(context, call, AnthropicDialect.Instance, call.Request.Features);

        using (result)
        {
            Assert.NotNull(result);
            Assert.Equal(200, result.Status);
            Assert.Equal(2, result.Attempt); // numbered on across the chain's models
        }

        Assert.Equal(HaikuId, last.Route.Model);
        Assert.Equal(Sonnet, last.Route.EscalatedFrom);
        Assert.Equal($"fallback to {HaikuId}: HTTP 529 on {Sonnet}", last.Route.Reason);
        Assert.Equal(HaikuId, context.Response.Headers["x-modelmix-routed-model"].ToString());
        var sent = proxy.Upstream.Seen.ToArray();
        Assert.Contains($"\"model\":\"{Sonnet}\"", Encoding.UTF8.GetString(sent[0].Body), StringComparison.Ordinal);
        Assert.Contains($"\"model\":\"{HaikuId}\"", Encoding.UTF8.GetString(sent[1].Body), StringComparison.Ordinal);
        var records = await proxy.RecordsAsync("req_fallback");
        Assert.Equal([Sonnet, HaikuId], records.Select(record => record.RoutedModel));
    }

    [Fact]
    public async Task The_fallback_step_answers_502_and_ends_the_request_when_the_last_model_cannot_be_reached()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?> { ["ModelMix:Fallback:MaxRetriesPerModel"] = "0" });
        proxy.Upstream.Fail();
        var body = Wire.Request(Haiku);
        var context = proxy.NewContext(body);
        var call = proxy.NewCall(context, body, Haiku, out _, requestId: "req_nochain");

        var (_, result) = await proxy.Get<FallbackSender>().SendAsync(context, call, AnthropicDialect.Instance, call.Request.Features);

        Assert.Null(result);
        Assert.Equal(502, context.Response.StatusCode);
        Assert.Contains("req_nochain", ProxyHarness.ResponseText(context), StringComparison.Ordinal);
    }

    [Fact]
    public void A_400_is_a_context_overflow_only_when_the_api_says_the_prompt_is_too_long()
    {
        Assert.True(FallbackSender.IsContextOverflow(Encoding.UTF8.GetBytes(Wire.Error("invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"))));
        Assert.False(FallbackSender.IsContextOverflow(Encoding.UTF8.GetBytes(Wire.Error("invalid_request_error", "max_tokens: must be positive"))));
    }
}
