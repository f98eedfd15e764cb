using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Anthropic;
using Anthropic.Core;
using FakeAnthropic;
using Microsoft.Extensions.AI;
using ModelMix.Batching;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.IntegrationTests.Batching;

/// <summary>
/// The library door of the Batch API: <see cref="BatchingChatClient"/> over the official SDK, a real SQLite file for the
/// queue and the ledger, and <see cref="BatchRunner"/> submitting to FakeAnthropic's Message Batches API over HTTP.
/// </summary>
public sealed class BatchingChatClientTests : IAsyncLifetime
{
    private const string Haiku = "claude-haiku-4-5";
    private const string FixtureAnswer = "The customer received the linen field jacket in size M instead of L. They want an exchange delivered before their trip on Friday.";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _dir = new();
    private readonly HttpClient _http = new();
    private readonly ConcurrentDictionary<string, JsonObject> _sentParams = new(StringComparer.Ordinal);
    private FakeAnthropicServer _fake = null!;
    private AnthropicClient _sdk = null!;

    private string Db => Path.Combine(_dir.Path, "ledger.db");

    public async Task InitializeAsync()
    {
        _fake = await FakeAnthropicServer.StartAsync();
        _fake.Batches.InProgressPolls = 1;
        _fake.Batches.Outcome = (customId, parameters) =>
        {
            _sentParams[customId] = parameters;
            return FakeBatchOutcome.Succeeded();
        };
        _sdk = new AnthropicClient(new ClientOptions { ApiKey = "sk-test", BaseUrl = _fake.BaseUrl.ToString(), MaxRetries = 0 });
    }

    public async Task DisposeAsync()
    {
        _sdk.Dispose();
        _http.Dispose();
        await _fake.DisposeAsync();
        _dir.Dispose();
    }

    private static List<ChatMessage> Ask(string text = "Summarise ticket 1001 in two sentences.") => [new(ChatRole.User, text)];

    private static ChatOptions Batched(bool background) =>
        new ChatOptions { ModelId = Haiku, MaxOutputTokens = 64, AllowBackgroundResponses = background ? true : null }
            .WithBatch(true)
            .WithTaskLabel("nightly-summary")
            .WithKeyId("reports");

    [Fact]
    public async Task A_background_call_returns_a_token_at_once_and_a_fresh_client_over_the_same_store_collects_the_answer_after_a_restart()
    {
        byte[] saved;
        string jobId;
        await using (var first = await Process.OpenAsync(this))
        {
            // The runner is not started: nothing can be answered in this "process".
            var queued = await first.Chat.GetResponseAsync(Ask(), Batched(background: true));
            Assert.Empty(queued.Messages);
            var token = Assert.IsType<BatchContinuationToken>(queued.ContinuationToken);
            jobId = token.JobId;
            Assert.Equal(Haiku, queued.ModelId);

            var stillQueued = await first.Chat.GetResponseAsync([], new ChatOptions { AllowBackgroundResponses = true, ContinuationToken = token });
            Assert.Empty(stillQueued.Messages);
            Assert.Equal(jobId, Assert.IsType<BatchContinuationToken>(stillQueued.ContinuationToken).JobId);
            Assert.Equal("queued", (await first.Store.GetJobAsync(jobId))!.ProcessingStatus);

            // Persisted as a caller would: the response's token, with the MEAI converter (base64 of its bytes).
            saved = JsonSerializer.SerializeToUtf8Bytes(queued.ContinuationToken, AIJsonUtilities.DefaultOptions);
            Assert.Equal(saved, JsonSerializer.SerializeToUtf8Bytes(token, AIJsonUtilities.DefaultOptions));
        }

        Assert.Empty(_fake.MessageRequests); // nothing went to the synchronous API
        Assert.Equal(0, _fake.Batches.CreateCount);

        await using var second = await Process.OpenAsync(this);
        second.Runner.Start();
        var restored = JsonSerializer.Deserialize<ResponseContinuationToken>(saved, AIJsonUtilities.DefaultOptions)!;
        var answer = await PollUntilAnsweredAsync(second.Chat, restored);

        Assert.Null(answer.ContinuationToken);
        Assert.Equal(FixtureAnswer, answer.Text);
        Assert.Equal("claude-haiku-4-5-20251001", answer.ModelId);
        Assert.Equal(ChatFinishReason.Stop, answer.FinishReason);
        Assert.Equal(52, answer.Usage!.InputTokenCount);
        Assert.Equal(31, answer.Usage.OutputTokenCount);
        Assert.Equal(jobId, answer.AdditionalProperties![BatchingChatClient.JobIdProperty]);

        // The body the SDK would have sent synchronously, queued as is (no stream flag).
        var sent = Assert.Single(_sentParams.Values);
        Assert.Equal(Haiku, sent["model"]!.GetValue<string>());
        Assert.Equal(64, sent["max_tokens"]!.GetValue<int>());
        Assert.Equal("Summarise ticket 1001 in two sentences.", sent["messages"]![0]!["content"]![0]!["text"]!.GetValue<string>());
        Assert.False(sent.ContainsKey("stream"));
        Assert.Equal(1, _fake.Batches.CreateCount);

        var record = Assert.Single(await second.RecordsAsync());
        Assert.Equal(LedgerStatus.Ok, record.Status);
        Assert.Equal(ServiceTier.Batch, record.Usage.ServiceTier);
        Assert.Equal(jobId, record.RequestId);
        Assert.Equal("nightly-summary", record.TaskLabel);
        Assert.Equal("reports", record.KeyId);
        // Haiku 4.5 at half price: (52 × $1 + 31 × $5) / 1e6 × 0.5.
        // = (52 + 155) / 1e6 × 0.5 = 0.0001035.
        Assert.Equal(0.0001035m, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task Without_background_responses_the_call_waits_and_the_answer_is_recorded_once_at_the_batch_price()
    {
        await using var process = await Process.OpenAsync(this);
        process.Runner.Start();

        var answer = await process.Chat.GetResponseAsync(Ask(), Batched(background: false)).WaitAsync(Patience);

        Assert.Equal(FixtureAnswer, answer.Text);
        Assert.Null(answer.ContinuationToken);
        var jobId = (string)answer.AdditionalProperties![BatchingChatClient.JobIdProperty]!;

        // Collecting again (a token kept by the caller) neither re-sends nor re-records.
        var again = await process.Chat.GetResponseAsync([], new ChatOptions { ContinuationToken = new BatchContinuationToken(jobId) });
        Assert.Equal(FixtureAnswer, again.Text);
        await process.Runner.StopAsync();
        Assert.Empty(_fake.MessageRequests);
        Assert.Equal(1, _fake.Batches.CreateCount);
        Assert.Single(_fake.Batches.SubmittedCustomIds);
        var record = Assert.Single(await process.RecordsAsync());
        Assert.Equal(0.0001035m, record.Cost!.Value.Total); // Haiku 4.5 at half price: (52 × $1 + 31 × $5) / 1e6 × 0.5
        Assert.Equal(ServiceTier.Batch, record.Usage.ServiceTier);
    }

    [Fact]
    public async Task A_canceled_wait_leaves_the_call_queued_and_its_token_collects_the_answer_later()
    {
        var clock = new WaitSignalingTimeProvider();
        await using var process = await Process.OpenAsync(this, stageClock: clock);
        using var cancel = new CancellationTokenSource();

        var call = process.Chat.GetResponseAsync(Ask(), Batched(background: false), cancel.Token);
        await clock.FirstWait.Task.WaitAsync(Patience); // queued, and waiting for the answer
        await cancel.CancelAsync();
        var canceled = await Assert.ThrowsAsync<BatchWaitCanceledException>(() => call);

        Assert.Equal(cancel.Token, canceled.CancellationToken);
        var token = canceled.ContinuationToken!;
        Assert.Equal("queued", (await process.Store.GetJobAsync(token.JobId))!.ProcessingStatus);

        process.Runner.Start();
        var answer = await process.Chat.GetResponseAsync([], new ChatOptions { ContinuationToken = token }).WaitAsync(Patience);
        Assert.Equal(FixtureAnswer, answer.Text);
        Assert.Single(await process.RecordsAsync());
    }

    [Fact]
    public async Task A_routing_rule_with_batch_true_queues_the_calls_it_matches_and_serves_the_others_at_once()
    {
        var rules = RoutingConfiguration.ParseJson("""
            {"rules": [
              {"name": "nightly", "taskLabels": ["nightly"], "target": "haiku", "batch": true},
              {"name": "rest", "target": "sonnet"}
            ]}
            """, "rules.json");
        var policy = RoutingConfiguration.CreatePolicy(rules, PriceBook.Default);
        // The recommended order: routing, fallback, prompt caching, batching, ledger.
        await using var process = await Process.OpenAsync(this, builder => builder
            .UseModelMixRouting(policy)
            .UseModelMixFallback(o => o.Chain = ["sonnet", "haiku"])
            .UseModelMixPromptCaching());
        process.Runner.Start();

        var nightly = await process.Chat.GetResponseAsync(Ask(), new ChatOptions { MaxOutputTokens = 64, AllowBackgroundResponses = true }.WithTaskLabel("nightly"));
        var chat = await process.Chat.GetResponseAsync(Ask("Hi"), new ChatOptions { MaxOutputTokens = 64 }.WithTaskLabel("chat"));
        var optedOut = await process.Chat.GetResponseAsync(Ask("Now, please"), new ChatOptions { MaxOutputTokens = 64 }.WithTaskLabel("nightly").WithBatch(false));

        Assert.IsType<BatchContinuationToken>(nightly.ContinuationToken);
        Assert.Null(chat.ContinuationToken);
        Assert.NotEmpty(chat.Text);
        Assert.Null(optedOut.ContinuationToken);
        Assert.Equal(2, _fake.MessageRequests.Count); // chat (sonnet) and the opted-out nightly call (haiku), synchronously
        var haiku = PriceBook.Default.ResolveTier("haiku");
        Assert.Equal([PriceBook.Default.ResolveTier("sonnet"), haiku], _fake.MessageRequests.Select(r => r.Json!["model"]!.GetValue<string>()));

        var answer = await PollUntilAnsweredAsync(process.Chat, nightly.ContinuationToken!);
        Assert.Equal(FixtureAnswer, answer.Text);
        var batched = Assert.Single(await process.RecordsAsync(), r => r.Usage.ServiceTier == ServiceTier.Batch);
        Assert.Equal(haiku, batched.RoutedModel);
        Assert.Equal(haiku, Assert.Single(_sentParams.Values)["model"]!.GetValue<string>());
        Assert.Equal("auto", batched.RequestedModel);
        Assert.Equal("rules", batched.Policy);
        Assert.EndsWith(", batched", batched.Reason, StringComparison.Ordinal);
        Assert.Equal("nightly", batched.TaskLabel);
    }

    [Fact]
    public async Task A_batched_call_is_queued_with_the_breakpoints_prompt_caching_placed_at_the_one_hour_ttl()
    {
        var longSystem = string.Concat(Enumerable.Range(0, 90).Select(i => $"Rule {i}: answer support tickets politely and cite the policy. "));
        await using var process = await Process.OpenAsync(this, builder => builder.UseModelMixPromptCaching());
        process.Runner.Start();
        var options = Batched(background: false);
        options.ModelId = "claude-sonnet-4-5";
        options.Tools = [AIFunctionFactory.Create((string id) => "shipped", "lookup_order", "Looks an order up by its id.")];

        var answer = await process.Chat.GetResponseAsync([new(ChatRole.System, longSystem), new(ChatRole.User, "Where is order 42?")], options).WaitAsync(Patience);

        Assert.Equal(FixtureAnswer, answer.Text);
        var sent = Assert.Single(_sentParams.Values);
        Assert.Equal("claude-sonnet-4-5", sent["model"]!.GetValue<string>());
        Assert.Equal(longSystem, sent["system"]![0]!["text"]!.GetValue<string>());
        Assert.Equal("1h", sent["system"]![0]!["cache_control"]!["ttl"]!.GetValue<string>());
        Assert.Equal("lookup_order", sent["tools"]![0]!["name"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("errored", "invalid_request_error")]
    [InlineData("expired", "batch_expired")]
    [InlineData("canceled", "batch_canceled")]
    public async Task A_call_that_ends_without_an_answer_throws_naming_the_outcome_and_is_recorded_as_an_error(string outcome, string ledgerErrorType)
    {
        _fake.Batches.Outcome = (_, _) => outcome switch
        {
            "errored" => FakeBatchOutcome.Errored("invalid_request_error", "messages.0.content: text too long"),
            "expired" => FakeBatchOutcome.Expired,
            _ => FakeBatchOutcome.Canceled,
        };
        await using var process = await Process.OpenAsync(this);
        process.Runner.Start();

        var failure = await Assert.ThrowsAsync<BatchedCallException>(() => process.Chat.GetResponseAsync(Ask(), Batched(background: false)).WaitAsync(Patience));

        Assert.Equal(outcome, failure.Outcome);
        Assert.Contains("ended " + outcome, failure.Message, StringComparison.Ordinal);
        if (outcome == "errored")
        {
            Assert.Equal("invalid_request_error", failure.ErrorType);
            Assert.Contains("text too long", failure.Message, StringComparison.Ordinal);
        }

        // Polling the same token again reports the same outcome.
        var again = await Assert.ThrowsAsync<BatchedCallException>(() => process.Chat.GetResponseAsync([], new ChatOptions { AllowBackgroundResponses = true, ContinuationToken = new BatchContinuationToken(failure.JobId) }));
        Assert.Equal(outcome, again.Outcome);
        var record = Assert.Single(await process.RecordsAsync());
        Assert.Equal(LedgerStatus.Error, record.Status);
        Assert.Equal(ledgerErrorType, record.ErrorType);
        Assert.Equal(0m, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task Streaming_a_batched_call_is_refused_and_nothing_is_queued()
    {
        await using var process = await Process.OpenAsync(this);

        var refused = Assert.Throws<NotSupportedException>(() => process.Chat.GetStreamingResponseAsync(Ask(), Batched(background: true)));
        Assert.Contains("cannot stream", refused.Message, StringComparison.Ordinal);
        await process.Runner.Batcher.RunOnceAsync(CancellationToken.None);

        Assert.Equal(0, _fake.Batches.CreateCount);
        Assert.Empty(_fake.MessageRequests);

        // Unmarked calls still stream through the stage.
        var text = "";
        await foreach (var update in process.Chat.GetStreamingResponseAsync(Ask("Hi"), new ChatOptions { ModelId = Haiku, MaxOutputTokens = 64 }))
        {
            text += update.Text;
        }

        Assert.NotEmpty(text);
    }

    [Fact]
    public async Task A_model_without_a_price_is_refused_before_anything_is_queued()
    {
        await using var process = await Process.OpenAsync(this);
        var options = Batched(background: true);
        options.ModelId = "claude-imaginary-9";

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => process.Chat.GetResponseAsync(Ask(), options));

        Assert.Contains("claude-imaginary-9", refused.Message, StringComparison.Ordinal);
        await process.Runner.Batcher.RunOnceAsync(CancellationToken.None);
        Assert.Equal(0, _fake.Batches.CreateCount);
    }

    [Fact]
    public async Task The_runner_starts_the_batcher_again_after_an_unexpected_failure_and_resumes_a_crashed_submission()
    {
        await using var process = await Process.OpenAsync(this);
        var queued = await process.Chat.GetResponseAsync(Ask(), Batched(background: true));
        // A process died right after storing the submission, before its create call.
        Assert.NotNull(await process.Store.BeginSubmissionAsync("mmxsub_dead", 100, 1_000_000, DateTimeOffset.UtcNow));

        // The first upstream call of the new runner fails; reconciling at start does not expect that, so the loop ends.
        using var failing = new FailingOnceHandler { InnerHandler = new SocketsHttpHandler() };
        using var http = new HttpClient(failing);
        await using var runner = BatchRunner.Create(process.Store, new MessageBatchesClient(http, _fake.BaseUrl, "sk-test"), process.Recorder, new BatcherOptions
        {
            PollInterval = TimeSpan.FromMilliseconds(20),
            MaxPollInterval = TimeSpan.FromMilliseconds(100),
            IdleInterval = TimeSpan.FromMilliseconds(50),
        });
        runner.RestartDelay = TimeSpan.FromMilliseconds(50);
        runner.Start();

        var answer = await PollUntilAnsweredAsync(process.Chat, queued.ContinuationToken!);

        Assert.Equal(FixtureAnswer, answer.Text);
        Assert.True(failing.Failed);
        Assert.True(runner.IsRunning);
        Assert.Equal(1, _fake.Batches.CreateCount);
        Assert.Single(await process.RecordsAsync());
    }

    private static async Task<ChatResponse> PollUntilAnsweredAsync(IChatClient chat, ResponseContinuationToken token)
    {
        var deadline = DateTimeOffset.UtcNow + Patience;
        while (true)
        {
            var response = await chat.GetResponseAsync([], new ChatOptions { AllowBackgroundResponses = true, ContinuationToken = token });
            if (response.ContinuationToken is not { } next)
            {
                return response;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, "the batched call was not answered in time");
            Assert.Empty(response.Messages);
            token = next;
            await Task.Delay(50);
        }
    }

    /// <summary>Fails the first request with an exception the batcher does not expect, then passes requests on.</summary>
    private sealed class FailingOnceHandler : DelegatingHandler
    {
        private int _failed;

        public bool Failed => Volatile.Read(ref _failed) == 1;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Interlocked.Exchange(ref _failed, 1) == 0
                ? throw new InvalidOperationException("simulated failure of the first upstream call")
                : base.SendAsync(request, cancellationToken);
    }

    /// <summary>The system clock, telling when the stage first waits (the call is queued by then).</summary>
    private sealed class WaitSignalingTimeProvider : TimeProvider
    {
        public TaskCompletionSource FirstWait { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            FirstWait.TrySetResult();
            return base.CreateTimer(callback, state, dueTime, period);
        }
    }

    /// <summary>What one app process holds: the queue and the ledger on the SQLite file, the runner and the pipeline.</summary>
    private sealed class Process : IAsyncDisposable
    {
        private Process(SqliteBatchStore store, BufferedLedger ledger, AttemptRecorder recorder, BatchRunner runner, IChatClient chat)
        {
            Store = store;
            Ledger = ledger;
            Recorder = recorder;
            Runner = runner;
            Chat = chat;
        }

        public SqliteBatchStore Store { get; }

        public BufferedLedger Ledger { get; }

        public AttemptRecorder Recorder { get; }

        public BatchRunner Runner { get; }

        public IChatClient Chat { get; }

        public static async Task<Process> OpenAsync(BatchingChatClientTests test, Action<ChatClientBuilder>? above = null, TimeProvider? stageClock = null)
        {
            var store = new SqliteBatchStore(test.Db);
            await store.MigrateAsync();
            var ledger = await BufferedLedger.OpenSqliteAsync(test.Db);
            var recorder = new AttemptRecorder(PriceBook.Default, ledger);
            var api = new MessageBatchesClient(test._http, test._fake.BaseUrl, "sk-test");
            var runner = BatchRunner.Create(store, api, recorder, new BatcherOptions
            {
                PollInterval = TimeSpan.FromMilliseconds(20),
                MaxPollInterval = TimeSpan.FromMilliseconds(100),
                IdleInterval = TimeSpan.FromMilliseconds(50),
            });
            var builder = new ChatClientBuilder(test._sdk.AsIChatClient(Haiku));
            above?.Invoke(builder);
            var chat = builder
                .UseModelMixBatching(store, o =>
                {
                    o.Batcher = runner.Batcher;
                    o.TimeProvider = stageClock;
                    o.WaitPollInterval = TimeSpan.FromMilliseconds(20);
                    o.MaxWaitPollInterval = TimeSpan.FromMilliseconds(200);
                })
                .UseModelMixLedger(recorder)
                .Build();
            return new Process(store, ledger, recorder, runner, chat);
        }

        public async Task<List<LedgerRecord>> RecordsAsync()
        {
            await Ledger.FlushAsync();
            var records = new List<LedgerRecord>();
            await foreach (var record in Ledger.ReadAsync(LedgerQuery.All))
            {
                records.Add(record);
            }

            return records;
        }

        public async ValueTask DisposeAsync()
        {
            await Runner.DisposeAsync();
            Chat.Dispose();
            await Ledger.DisposeAsync();
            await Store.DisposeAsync();
        }
    }
}
