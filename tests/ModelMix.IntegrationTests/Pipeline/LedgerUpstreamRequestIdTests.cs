using Anthropic;
using Anthropic.Core;
using Anthropic.Exceptions;
using FakeAnthropic;
using Microsoft.Extensions.AI;
using ModelMix.Ledger;
using ModelMix.Pipeline;

namespace ModelMix.IntegrationTests.Pipeline;

/// <summary>
/// The library door records the upstream's <c>request-id</c> on every attempt that got a response — answered calls and
/// streams included, not only errors — when the official SDK client carries an <see cref="UpstreamRequestIdHandler"/>:
/// FakeAnthropic sends a fresh <c>req_…</c> header with every answer, the real SDK and its <c>AsIChatClient</c> carry
/// the call, and each record is matched to the id the fake says it sent.
/// </summary>
public sealed class LedgerUpstreamRequestIdTests : LedgerPipelineTest
{
    private const string Prompt = "Which of the two invoices was paid late?";

    private AnthropicClient WithHandler() => new(new ClientOptions
    {
        ApiKey = "test-key",
        BaseUrl = Server.BaseUrl.ToString(),
        MaxRetries = 0,
        Handlers = [new UpstreamRequestIdHandler()],
    });

    private IChatClient Pipeline(AnthropicClient sdk) => new ChatClientBuilder(sdk.AsIChatClient("claude-haiku-4-5")).UseModelMixLedger(Recorder).Build();

    [Fact]
    public async Task An_answered_call_is_recorded_with_the_request_id_the_upstream_sent()
    {
        Server.Enqueue(FakeReply.Message("messages/response-text.json"));
        using var sdk = WithHandler();
        using var chat = Pipeline(sdk);

        await chat.GetResponseAsync(Prompt);

        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal(LedgerStatus.Ok, record.Status);
        Assert.Equal(Assert.Single(Server.ServedMessages).RequestId, record.UpstreamRequestId);
        Assert.StartsWith("req_", record.UpstreamRequestId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_completed_stream_is_recorded_with_the_request_id_the_upstream_sent()
    {
        Server.Enqueue(FakeReply.Stream());
        using var sdk = WithHandler();
        using var chat = Pipeline(sdk);

        await foreach (var update in chat.GetStreamingResponseAsync(Prompt))
        {
        }

        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal((LedgerStatus.Ok, true), (record.Status, record.Streaming));
        Assert.Equal(Assert.Single(Server.ServedMessages).RequestId, record.UpstreamRequestId);
    }

    [Fact]
    public async Task An_error_event_inside_a_200_stream_keeps_the_streams_request_id()
    {
        // The SSE exception carries no request id; the 200 response that began the stream had one.
        Server.Enqueue(FakeReply.Stream("streaming/error-midstream.sse"));
        using var sdk = WithHandler();
        using var chat = Pipeline(sdk);

        await Assert.ThrowsAsync<AnthropicSseException>(async () =>
        {
            await foreach (var update in chat.GetStreamingResponseAsync(Prompt))
            {
            }
        });

        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal((LedgerStatus.Error, "overloaded_error"), (record.Status, record.ErrorType));
        Assert.Equal(Assert.Single(Server.ServedMessages).RequestId, record.UpstreamRequestId);
    }

    [Fact]
    public async Task An_error_answer_is_recorded_with_its_request_id_as_before()
    {
        Server.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(2)));
        using var sdk = WithHandler();
        using var chat = Pipeline(sdk);

        var thrown = await Assert.ThrowsAsync<AnthropicRateLimitException>(() => chat.GetResponseAsync(Prompt));

        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal(Assert.Single(Server.ServedMessages).RequestId, record.UpstreamRequestId);
        Assert.Equal(thrown.RequestID, record.UpstreamRequestId);
    }

    [Fact]
    public async Task Concurrent_calls_each_get_their_own_request_id()
    {
        // The handler's slot is per async flow: 8 calls at once, 8 records, and the ids recorded are exactly the 8 sent.
        using var sdk = WithHandler();
        using var chat = Pipeline(sdk);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => i % 2 == 0
            ? chat.GetResponseAsync($"{Prompt} #{i}")
            : ConsumeStreamAsync(chat, $"{Prompt} #{i}")));

        var records = await CommittedRecordsAsync();
        Assert.Equal(8, records.Count);
        var sent = Server.ServedMessages.Select(m => m.RequestId).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(8, sent.Distinct().Count());
        Assert.Equal(sent, records.Select(r => r.UpstreamRequestId!).Order(StringComparer.Ordinal).ToList());
    }

    [Fact]
    public async Task Without_the_handler_an_answered_call_has_no_upstream_request_id()
    {
        // The documented limit (docs/library.md): AsIChatClient exposes no response header, so the id needs the handler.
        // Sdk (the base class's client) has no handler, but one was created in this process: the slot is opened and stays empty.
        using (WithHandler())
        {
        }

        Server.Enqueue(FakeReply.Message("messages/response-text.json"));
        using var chat = Pipeline(Sdk);

        await chat.GetResponseAsync(Prompt);

        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal(LedgerStatus.Ok, record.Status);
        Assert.Null(record.UpstreamRequestId);
    }

    private static async Task<ChatResponse> ConsumeStreamAsync(IChatClient chat, string prompt) =>
        await chat.GetStreamingResponseAsync(prompt).ToChatResponseAsync();
}

/// <summary>
/// The proxy's own SDK calls go through the same ledger stage: the meta-router's classification row carries the
/// upstream's request-id like the routed attempt's row (which the forwarder reads from the response itself).
/// </summary>
public sealed class ProxySdkCallRequestIdTests
{
    [Fact]
    public async Task The_classification_and_the_routed_attempt_each_carry_the_request_id_the_upstream_sent()
    {
        await using var harness = await ModelMix.IntegrationTests.Proxy.ProxyHarness.StartAsync();
        using var replies = new Cascade.TextReplies();
        harness.Fake.Enqueue(replies.Message("{\"tier\":\"haiku\",\"reason\":\"simple\"}"));
        harness.Fake.Enqueue(replies.Message("Coins fall like rain."));
        using var http = harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
        {
            Content = new StringContent("""{"model":"auto-meta","max_tokens":100,"messages":[{"role":"user","content":"Write a haiku about money."}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("anthropic-version", "2023-06-01");

        using (var response = await http.SendAsync(request))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        }

        await harness.Ledger.FlushAsync();
        var records = (await harness.ReadLedgerAsync()).OrderBy(r => r.Attempt).ToList();
        Assert.Equal([0, 1], records.Select(r => r.Attempt));
        Assert.Equal(harness.Fake.ServedMessages.Select(m => m.RequestId), records.Select(r => r.UpstreamRequestId));
    }
}
