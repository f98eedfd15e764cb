using Anthropic;
using Anthropic.Core;
using Anthropic.Exceptions;
using FakeAnthropic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;
using ModelMix.Testing;

namespace ModelMix.IntegrationTests.Pipeline;

/// <summary>
/// The library door end to end over real HTTP: Routing → Fallback → Ledger → the official SDK's AsIChatClient → the
/// FakeAnthropic server, with the SQLite ledger.
/// </summary>
public sealed class RoutingFallbackPipelineTests : LedgerPipelineTest
{
    private const string ClassificationPrompt = "Classify the sentiment of this review as positive, negative or neutral: 'The jacket fits well.'";
    private const string ArchitecturePrompt = "Please do an architecture review of our payment service: queues, retries, idempotency and failure modes.";

    private readonly FallbackTestTime _time = new();

    private AnthropicClient SdkWithRetryAfter() => new(new ClientOptions
    {
        ApiKey = "test-key",
        BaseUrl = Server.BaseUrl.ToString(),
        MaxRetries = 0,
        Handlers = [new FallbackRetryAfterHandler()],
    });

    private IChatClient Pipeline(AnthropicClient sdk, Action<FallbackOptions>? fallback = null) =>
        new ChatClientBuilder(sdk.AsIChatClient("claude-sonnet-4-5"))
            .UseModelMixRouting(RoutingConfiguration.CreatePolicy(new RoutingOptions(), PriceBook.Default))
            .UseModelMixFallback(o =>
            {
                o.TimeProvider = _time;
                fallback?.Invoke(o);
            })
            .UseModelMixLedger(Recorder)
            .Build();

    private string SentModel(int index) => Server.MessageRequests[index].Json!["model"]!.GetValue<string>();

    [Fact]
    public async Task Default_rules_send_a_classification_to_Haiku_and_an_architecture_review_to_Opus()
    {
        Server.Enqueue(FakeReply.Message());
        Server.Enqueue(FakeReply.Message());
        using var chat = Pipeline(Sdk);

        await chat.GetResponseAsync(ClassificationPrompt);
        await chat.GetResponseAsync(ArchitecturePrompt);

        Assert.Equal("claude-haiku-5-5", SentModel(0)); // the default catalog's haiku tier
        Assert.Equal(PriceBook.Default.ResolveTier("opus"), SentModel(1));
        var records = await CommittedRecordsAsync();
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.Equal("rules", r.Policy));
        Assert.All(records, r => Assert.Equal("auto", r.RequestedModel));
        Assert.Equal("claude-haiku-5-5", records[0].RoutedModel);
        Assert.Contains(DefaultRules.HaikuKeywords, records[0].Reason, StringComparison.Ordinal);
        Assert.Contains(DefaultRules.OpusKeywords, records[1].Reason, StringComparison.Ordinal);
        Assert.NotEqual(records[0].RequestId, records[1].RequestId);
    }

    [Fact]
    public async Task A_429_is_retried_after_its_retry_after_and_both_attempts_share_the_request_id()
    {
        Server.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(2)));
        Server.Enqueue(FakeReply.Message());
        using var sdk = SdkWithRetryAfter();
        using var chat = Pipeline(sdk);

        var response = await chat.GetResponseAsync(ClassificationPrompt);

        Assert.NotEmpty(response.Text);
        Assert.Equal([TimeSpan.FromSeconds(2)], _time.Delays);
        var records = await CommittedRecordsAsync();
        Assert.Equal([1, 2], records.Select(r => r.Attempt));
        Assert.Single(records.Select(r => r.RequestId).Distinct());
        Assert.Equal((LedgerStatus.Error, 429, "rate_limit_error"), (records[0].Status, records[0].HttpStatus, records[0].ErrorType));
        Assert.Equal(LedgerStatus.Ok, records[1].Status);
        Assert.All(records, r => Assert.Equal("claude-haiku-5-5", r.RoutedModel)); // the default catalog's haiku tier
    }

    [Fact]
    public async Task Without_the_retry_after_handler_a_429_is_retried_with_jittered_backoff()
    {
        Server.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(30)));
        Server.Enqueue(FakeReply.Message());
        using var chat = Pipeline(Sdk);

        await chat.GetResponseAsync(ClassificationPrompt);

        var delay = Assert.Single(_time.Delays);
        Assert.InRange(delay, TimeSpan.Zero, TimeSpan.FromSeconds(8));
        Assert.Equal(2, (await CommittedRecordsAsync()).Count);
    }

    [Fact]
    public async Task Persistent_529s_on_Opus_fall_back_to_Sonnet_and_the_ledger_shows_the_path()
    {
        Server.Enqueue(FakeReply.Overloaded());
        Server.Enqueue(FakeReply.Overloaded());
        Server.Enqueue(FakeReply.Message().WithModel("claude-sonnet-4-6"));
        using var chat = Pipeline(Sdk, o =>
        {
            // Sonnet 4.6, not 4.5: claude-sonnet-4-5 is retired since 2026-11-30 and a chain passes over a retired model (ModelFit).
            o.Chain = ["claude-opus-4-5", "claude-sonnet-4-6", "claude-haiku-4-5"];
            o.MaxRetriesPerModel = 1;
        });

        await chat.GetResponseAsync(ArchitecturePrompt, new ChatOptions { ModelId = "claude-opus-4-5" });

        Assert.Equal(["claude-opus-4-5", "claude-opus-4-5", "claude-sonnet-4-6"], Enumerable.Range(0, 3).Select(SentModel));
        var records = await CommittedRecordsAsync();
        Assert.Equal(
            [
                (1, "claude-opus-4-5", (string?)null, LedgerStatus.Error, 529),
                (2, "claude-opus-4-5", null, LedgerStatus.Error, 529),
                (3, "claude-sonnet-4-6", "claude-opus-4-5", LedgerStatus.Ok, 200),
            ],
            records.Select(r => (r.Attempt, r.RoutedModel, r.EscalatedFrom, r.Status, r.HttpStatus)));
        Assert.Single(records.Select(r => r.RequestId).Distinct());
        Assert.All(records, r => Assert.Equal(ModelRoutingOptions.CallerPolicyName, r.Policy));
        Assert.Single(_time.Delays);
    }

    [Fact]
    public async Task A_400_invalid_request_is_not_retried()
    {
        Server.Enqueue(FakeReply.Error(400, "invalid_request_error", "max_tokens: Field required"));
        using var chat = Pipeline(Sdk, o => o.Chain = ["opus", "sonnet", "haiku"]);

        await Assert.ThrowsAsync<AnthropicBadRequestException>(() => chat.GetResponseAsync(ArchitecturePrompt));

        Assert.Single(Server.MessageRequests);
        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal((LedgerStatus.Error, 400, "invalid_request_error"), (record.Status, record.HttpStatus, record.ErrorType));
        Assert.Empty(_time.Delays);
    }

    [Fact]
    public async Task A_prompt_too_long_goes_to_the_long_context_model()
    {
        Server.Enqueue(FakeReply.Error(400, "invalid_request_error", "prompt is too long: 215000 tokens > 200000 maximum"));
        Server.Enqueue(FakeReply.Message());
        using var chat = Pipeline(Sdk, o => o.LongContextModel = "claude-sonnet-4-6");

        await chat.GetResponseAsync(ClassificationPrompt);

        // The classification goes to the default catalog's haiku tier first.
        Assert.Equal(["claude-haiku-5-5", "claude-sonnet-4-6"], Enumerable.Range(0, 2).Select(SentModel));
        var records = await CommittedRecordsAsync();
        Assert.Equal("claude-haiku-5-5", records[1].EscalatedFrom);
    }

    [Fact]
    public async Task A_stream_cut_after_output_is_not_retried()
    {
        Server.Enqueue(FakeReply.Stream().WithCutAfterEvents(3));
        Server.Enqueue(FakeReply.Stream());
        using var chat = Pipeline(Sdk, o => o.Chain = ["opus", "sonnet", "haiku"]);

        var updates = 0;
        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            await foreach (var update in chat.GetStreamingResponseAsync(ClassificationPrompt))
            {
                updates++;
            }
        });

        Assert.True(updates > 0);
        Assert.Single(Server.MessageRequests);
        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal((LedgerStatus.Error, "stream_cut", 1), (record.Status, record.ErrorType, record.Attempt));
    }

    [Fact]
    public async Task A_stream_that_fails_before_output_is_retried_and_completes()
    {
        Server.Enqueue(FakeReply.ServerError());
        Server.Enqueue(FakeReply.Stream());
        using var chat = Pipeline(Sdk);

        var response = await chat.GetStreamingResponseAsync(ClassificationPrompt).ToChatResponseAsync();

        Assert.NotEmpty(response.Text);
        var records = await CommittedRecordsAsync();
        Assert.Equal([(1, LedgerStatus.Error), (2, LedgerStatus.Ok)], records.Select(r => (r.Attempt, r.Status)));
        Assert.All(records, r => Assert.True(r.Streaming));
    }

    [Fact]
    public async Task AddChatClient_UseModelRouting_reads_the_routing_section_and_the_fallback_section_from_DI()
    {
        Server.Enqueue(FakeReply.Overloaded());
        Server.Enqueue(FakeReply.Message());
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ModelMix:Routing:Pins:checkout"] = "opus",
            ["ModelMix:Fallback:Chain:0"] = "opus",
            ["ModelMix:Fallback:Chain:1"] = "sonnet",
            ["ModelMix:Fallback:MaxRetriesPerModel"] = "0",
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddSingleton(Recorder);
        services.AddSingleton<TimeProvider>(_time);
        services.AddChatClient(Sdk.AsIChatClient("claude-sonnet-4-5"))
            .UseModelMixRouting()
            .UseModelMixFallback()
            .UseModelMixLedger();
        await using var provider = services.BuildServiceProvider();
        var chat = provider.GetRequiredService<IChatClient>();

        await chat.GetResponseAsync("Approve this order.", new ChatOptions().WithTaskLabel("checkout"));

        Assert.NotNull(chat.GetService<ModelRoutingChatClient>());
        Assert.NotNull(chat.GetService<FallbackChatClient>());
        Assert.NotNull(chat.GetService<LedgerChatClient>());
        Assert.Equal([PriceBook.Default.ResolveTier("opus"), PriceBook.Default.ResolveTier("sonnet")], Enumerable.Range(0, 2).Select(SentModel));
        var records = await CommittedRecordsAsync();
        Assert.All(records, r => Assert.Equal("pinned", r.Policy));
        Assert.Equal([1, 2], records.Select(r => r.Attempt));
        Assert.Equal("checkout", records[1].TaskLabel);
    }
}
