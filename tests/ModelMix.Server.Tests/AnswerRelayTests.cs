using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using ModelMix.Ledger;

namespace ModelMix.Server.Tests;

/// <summary>The relay step (<see cref="AnswerRelay"/>): buffered answers as they came, streams event by event and recorded when they end.</summary>
public sealed class AnswerRelayTests
{
    private const string Haiku = "claude-haiku-4-5";

    [Fact]
    public async Task A_buffered_answer_is_written_as_it_came_with_the_decision_headers_and_its_cost()
    {
        await using var proxy = await ProxyHarness.StartAsync();
        var answer = Encoding.UTF8.GetBytes(Wire.Message(Haiku));
        var context = proxy.NewContext();
        var call = proxy.NewCall(context, Wire.Request(Haiku), Haiku, out _);
        var result = new UpstreamResult
        {
            Attempt = 1,
            Status = 200,
            Body = answer,
            Headers = [new("request-id", "req_upstream_1"), new("content-type", "application/json")],
            Cost = 0.0035m,
        };

        await proxy.Get<AnswerRelay>().RelayAsync(context, call, result, AnthropicDialect.Instance);

        Assert.Equal(200, context.Response.StatusCode);
        Assert.Equal(answer, ((MemoryStream)context.Response.Body).ToArray());
        Assert.Equal("req_upstream_1", context.Response.Headers["request-id"].ToString());
        Assert.Equal(Haiku, context.Response.Headers["x-modelmix-routed-model"].ToString());
        Assert.Equal("passthrough", context.Response.Headers["x-modelmix-route-policy"].ToString());
        Assert.Equal("0.0035", context.Response.Headers["x-modelmix-cost-usd"].ToString());
    }

    [Fact]
    public async Task A_stream_is_relayed_byte_for_byte_and_its_attempt_recorded_with_the_streams_usage()
    {
        await using var proxy = await ProxyHarness.StartAsync();
        var events = Wire.Events(Haiku);
        proxy.Upstream.Stream(events);
        var body = Wire.Request(Haiku, stream: true);
        var context = proxy.NewContext(body);
        var call = proxy.NewCall(context, body, Haiku, out var hold, requestId: "req_stream");
        var result = await proxy.Get<UpstreamSender>().SendAsync(call, new StrongBox<int>(0));
        Assert.NotNull(result.OpenStream);

        await proxy.Get<AnswerRelay>().RelayAsync(context, call, result, AnthropicDialect.Instance);

        var relayed = ProxyHarness.ResponseText(context);
        Assert.StartsWith(events, relayed, StringComparison.Ordinal); // then the cost trailer, an SSE comment
        Assert.Equal("no-cache", context.Response.Headers.CacheControl.ToString());
        var record = Assert.Single(await proxy.RecordsAsync("req_stream"));
        Assert.True(record.Streaming);
        Assert.Equal(LedgerStatus.Ok, record.Status);
        Assert.Equal((1000L, 500L), (record.Usage.InputTokens, record.Usage.OutputTokens));
        Assert.False(record.UsageEstimated);
        // 1,000 input tokens at $1 / MTok + 500 output tokens at $5 / MTok = $0.001 + $0.0025.
        Assert.Equal(0.0035m, record.Cost?.Total);
        Assert.Equal(0.0035m, hold.Charged);
    }

    [Fact]
    public async Task A_stream_the_upstream_closes_early_ends_with_an_error_event_and_is_recorded_as_cut()
    {
        await using var proxy = await ProxyHarness.StartAsync();
        var events = Wire.Events(Haiku, complete: false);
        proxy.Upstream.Stream(events);
        var body = Wire.Request(Haiku, stream: true);
        var context = proxy.NewContext(body);
        var call = proxy.NewCall(context, body, Haiku, out _, requestId: "req_cut");
        var result = await proxy.Get<UpstreamSender>().SendAsync(call, new StrongBox<int>(0));

        await proxy.Get<AnswerRelay>().RelayAsync(context, call, result, AnthropicDialect.Instance);

        var relayed = ProxyHarness.ResponseText(context);
        Assert.StartsWith(events, relayed, StringComparison.Ordinal);
        Assert.Contains("event: error", relayed[events.Length..], StringComparison.Ordinal);
        Assert.Contains("the upstream closed the stream early", relayed[events.Length..], StringComparison.Ordinal);
        var record = Assert.Single(await proxy.RecordsAsync("req_cut"));
        Assert.Equal((LedgerStatus.Error, "stream_cut"), (record.Status, record.ErrorType));
        Assert.True(record.UsageEstimated); // no final usage arrived: estimated from what was relayed
    }
}
