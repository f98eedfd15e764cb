using System.Text;
using Anthropic.Models.Messages;
using FakeAnthropic;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// The proxy's answer says what it decided and what it cost: headers on a buffered answer, and a trailing SSE comment
/// after a stream's last event, which the official SDK ignores.
/// </summary>
public sealed class AnswerHeadersTests : IAsyncLifetime
{
    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private static StringContent Body(string model, bool stream = false) => new(
        $$"""{"model":"{{model}}","max_tokens":256,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Classify the sentiment of this review: 'The jacket fits well.'"}]}""",
        Encoding.UTF8,
        "application/json");

    [Fact]
    public async Task A_buffered_answer_carries_its_cost_policy_and_reason_in_headers()
    {
        _harness.Fake.Enqueue(FakeReply.Message().WithUsage(input: 1000, output: 200));
        using var http = _harness.Http();

        using var response = await http.PostAsync("v1/messages", Body("claude-sonnet-4-5"));

        response.EnsureSuccessStatusCode();
        // Sonnet 4.5 at $3 / $15 per MTok: 1,000 × 3 / 1e6 + 200 × 15 / 1e6 = $0.006.
        Assert.Equal("0.006", Header(response, "x-modelmix-cost-usd"));
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal(AnswerHeaders.HeaderValue(record.Reason!), Header(response, "x-modelmix-route-reason"));
        Assert.Equal(record.Policy, Header(response, "x-modelmix-route-policy"));
        Assert.Equal("claude-sonnet-4-5", Header(response, "x-modelmix-routed-model"));
    }

    [Fact]
    public async Task A_routed_answer_has_a_reason_header_even_when_the_reason_is_not_ASCII()
    {
        using var http = _harness.Http();

        using var response = await http.PostAsync("v1/messages", Body("auto"));

        response.EnsureSuccessStatusCode();
        var reason = Header(response, "x-modelmix-route-reason");
        Assert.False(string.IsNullOrWhiteSpace(reason));
        Assert.All(reason, c => Assert.InRange(c, ' ', '~'));
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal(AnswerHeaders.HeaderValue(record.Reason!), reason);
    }

    [Fact]
    public async Task A_stream_ends_with_a_comment_line_that_carries_its_cost()
    {
        _harness.Fake.Enqueue(FakeReply.Stream().WithUsage(input: 1000, output: 200));
        using var http = _harness.Http();

        using var response = await http.PostAsync("v1/messages", Body("claude-sonnet-4-5", stream: true));
        var text = await response.Content.ReadAsStringAsync();

        var record = Assert.Single(await _harness.ReadLedgerAsync());
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("data: {\"type\":\"message_stop\"", lines[^2], StringComparison.Ordinal);
        Assert.Equal($": modelmix request_id={record.RequestId} cost_usd=0.006", lines[^1]); // $0.006 as above
        Assert.False(response.Headers.Contains("x-modelmix-cost-usd")); // the headers went out before the cost was known
        Assert.False(string.IsNullOrEmpty(Header(response, "x-modelmix-route-reason")));
    }

    [Fact]
    public async Task The_official_sdk_reads_a_stream_that_ends_with_the_comment_line()
    {
        _harness.Fake.Enqueue(FakeReply.Stream().WithUsage(input: 1000, output: 200));
        using var client = _harness.Client();
        var types = new List<string>();
        var text = new StringBuilder();

        await foreach (var streamEvent in client.Messages.CreateStreaming(new MessageCreateParams
        {
            Model = "claude-sonnet-4-5",
            MaxTokens = 256,
            Messages = [new UserMessageParam("Which tier should summarise this ticket?")],
        }))
        {
            types.Add(streamEvent.Json.GetProperty("type").GetString()!);
            if (streamEvent.TryPickContentBlockDelta(out var delta) && delta!.Delta.TryPickText(out var piece))
            {
                text.Append(piece!.Text);
            }
        }

        Assert.Equal("message_start", types[0]);
        Assert.Equal("message_stop", types[^1]); // the comment after it is not an event
        Assert.True(text.Length > 0);
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : string.Empty;
}
