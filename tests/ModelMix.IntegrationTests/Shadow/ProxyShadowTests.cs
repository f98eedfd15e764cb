using Anthropic.Models.Messages;
using FakeAnthropic;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Shadow;

namespace ModelMix.IntegrationTests.Shadow;

/// <summary>Shadow mode through the real proxy, the official SDK as client and FakeAnthropic as upstream.</summary>
public sealed class ProxyShadowTests : IAsyncLifetime, IDisposable
{
    private readonly ShadowReplies _replies = new();
    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync(settings =>
    {
        settings["ModelMix:Shadow:CandidateModel"] = "claude-sonnet-4-6"; // Sonnet 4.5 retired on 2026-11-30: a retired candidate is skipped
        settings["ModelMix:Shadow:DefaultRate"] = "0";
        settings["ModelMix:Shadow:Rates:sentiment"] = "1";
    });

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    public void Dispose() => _replies.Dispose();

    private static MessageCreateParams Ask() => new()
    {
        Model = "claude-haiku-4-5",
        MaxTokens = 64,
        Messages = [new UserMessageParam("Classify the sentiment: I love it.")],
    };

    private async Task<List<ShadowPair>> WaitForPairsAsync(int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            await using var store = new SqliteLedgerStore(_harness.DbPath);
            await store.MigrateAsync();
            var pairs = new List<ShadowPair>();
            await foreach (var pair in store.ReadShadowPairsAsync())
            {
                pairs.Add(pair);
            }

            if (pairs.Count >= count)
            {
                return pairs;
            }

            await Task.Delay(50, timeout.Token);
        }
    }

    [Fact]
    public async Task A_sampled_request_is_answered_first_then_shadowed_and_paired_in_the_ledger()
    {
        _harness.Fake.Enqueue(_replies.Text("positive"));
        _harness.Fake.Enqueue(_replies.Text("Positive.").WithDelay(TimeSpan.FromSeconds(5)));
        using var http = _harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
        {
            Content = new StringContent("""{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"Classify the sentiment: I love it."}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-api-key", ProxyHarness.ClientKey);
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("x-modelmix-task", "sentiment");

        using var response = await http.SendAsync(request);

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Contains("positive", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain(await _harness.ReadLedgerAsync(), r => r.Policy == ShadowRunner.Policy); // the shadow call is still held upstream

        var pair = Assert.Single(await WaitForPairsAsync(1));
        Assert.Equal(1.0, pair.Agreement);
        Assert.Equal("sentiment", pair.TaskLabel);
        Assert.Equal("claude-haiku-4-5", pair.LiveModel);
        Assert.Equal("claude-sonnet-4-6", pair.ShadowModel);
        var records = await _harness.ReadLedgerAsync();
        var live = Assert.Single(records, r => r.Policy != ShadowRunner.Policy);
        var shadow = Assert.Single(records, r => r.Policy == ShadowRunner.Policy);
        Assert.Equal(pair.PairId, live.ShadowPairId);
        Assert.Equal(pair.PairId, shadow.ShadowPairId);
        Assert.Equal(pair.LiveRequestId, live.RequestId);
        Assert.Equal(live.Cost!.Value.Total, pair.LiveCostUsd);
        Assert.Equal(shadow.Cost!.Value.Total, pair.ShadowCostUsd);
        var forwarded = _harness.Fake.MessageRequests[1];
        Assert.Contains("\"model\":\"claude-sonnet-4-6\"", forwarded.Body, StringComparison.Ordinal);
        Assert.Null(pair.Prompt);
        Assert.Null(pair.LiveAnswer);
    }

    [Fact]
    public async Task A_streamed_request_is_shadowed_after_the_stream_without_streaming_the_shadow_call()
    {
        _harness.Fake.Enqueue(FakeReply.Stream());
        _harness.Fake.Enqueue(FakeReply.ServerError());
        using var http = _harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
        {
            Content = new StringContent("""{"model":"claude-haiku-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Classify the sentiment: I love it."}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-api-key", ProxyHarness.ClientKey);
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("x-modelmix-task", "sentiment");

        using var response = await http.SendAsync(request);
        var events = await response.Content.ReadAsStringAsync();

        // The failing shadow call changes nothing for the caller.
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Contains("message_stop", events, StringComparison.Ordinal);
        var pair = Assert.Single(await WaitForPairsAsync(1));
        Assert.Equal("shadow_failed", pair.Status);
        Assert.True(pair.LiveOutputTokens > 0);
        var shadowRequest = _harness.Fake.MessageRequests[1];
        Assert.DoesNotContain("\"stream\"", shadowRequest.Body, StringComparison.Ordinal);
        var records = await _harness.ReadLedgerAsync();
        Assert.True(Assert.Single(records, r => r.Policy != ShadowRunner.Policy).Streaming);
        Assert.Equal(LedgerStatus.Error, Assert.Single(records, r => r.Policy == ShadowRunner.Policy).Status);
    }

    [Fact]
    public async Task Requests_of_unsampled_tasks_are_not_shadowed()
    {
        using var client = _harness.Client();

        await client.Messages.Create(Ask()); // no task label: DefaultRate 0

        Assert.Single(_harness.Fake.MessageRequests);
        Assert.All(await _harness.ReadLedgerAsync(), record => Assert.Null(record.ShadowPairId));
    }
}
