using FakeAnthropic;
using ModelMix.IntegrationTests.Support;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>The official TypeScript SDK (@anthropic-ai/sdk from npm) uses the proxy unchanged: create, stream, errors.</summary>
public sealed class NodeAnthropicClientTests
{
    [Fact]
    public async Task Typescript_sdk_creates_streams_and_gets_clean_errors_through_the_proxy()
    {
        await using var harness = await ProxyHarness.StartAsync();
        harness.Fake.Enqueue(FakeReply.Default);
        harness.Fake.Enqueue(FakeReply.Default);
        harness.Fake.Enqueue(FakeReply.Message("messages/response-tool-use.json"));

        var result = await NodeScript.RunAsync(NodeScript.Folder("anthropic"), "anthropic-client.mjs", harness.ProxyUrl.ToString().TrimEnd('/'));

        var create = result.GetProperty("create");
        Assert.Equal("claude-haiku-4-5-20251001", create.GetProperty("model").GetString());
        Assert.Equal(33, create.GetProperty("usage").GetProperty("output_tokens").GetInt32());
        var stream = result.GetProperty("stream");
        var events = stream.GetProperty("events").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal("message_start", events[0]);
        Assert.Equal("message_stop", events[^1]);
        Assert.Equal(22, stream.GetProperty("usage").GetProperty("output_tokens").GetInt32());
        Assert.False(string.IsNullOrEmpty(stream.GetProperty("text").GetString()));
        var tools = result.GetProperty("tools");
        Assert.Equal("tool_use", tools.GetProperty("stop_reason").GetString());
        Assert.Equal("get_weather", tools.GetProperty("tool").GetString());
        Assert.Equal("Paris", tools.GetProperty("input").GetProperty("city").GetString());
        Assert.Equal(3, harness.Fake.MessageRequests.Count);
        Assert.Equal("get_weather", harness.Fake.MessageRequests[2].Json!["tools"]![0]!["name"]!.GetValue<string>());
        var bad = result.GetProperty("badRequest");
        Assert.Equal(400, bad.GetProperty("status").GetInt32());
        Assert.Equal("invalid_request_error", bad.GetProperty("type").GetString());

        var records = await harness.ReadLedgerAsync();
        Assert.Equal(3, records.Count);
        Assert.All(records, record => Assert.Equal(LedgerStatus.Ok, record.Status));
        var routed = records.Single(record => record.RequestedModel == "auto");
        Assert.True(routed.Streaming);
        Assert.StartsWith("claude-haiku-5-5", routed.RoutedModel, StringComparison.Ordinal); // "auto" → the default catalog's haiku tier
    }
}
