using FakeAnthropic;
using Microsoft.Extensions.AI;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Pipeline;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Shadow;

namespace ModelMix.IntegrationTests.Shadow;

/// <summary>The library door's shadow stage over the real SDK, FakeAnthropic and a SQLite ledger.</summary>
public sealed class ShadowChatClientTests : LedgerPipelineTest, IAsyncLifetime, IDisposable
{
    private const string Live = "claude-haiku-4-5";
    private const string Candidate = "claude-sonnet-4-6"; // Sonnet 4.5 retired on 2026-11-30: a retired candidate is skipped
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly ShadowReplies _replies = new();
    private readonly List<ShadowRunner> _runners = [];

    public void Dispose() => _replies.Dispose();

    private IChatClient Inner() => new ChatClientBuilder(Sdk.AsIChatClient(Live)).UseModelMixLedger(Recorder).Build();

    private (IChatClient Chat, ShadowRunner Runner) Pipeline(Action<ShadowOptions>? configure = null)
    {
        var options = new ShadowOptions { CandidateModel = Candidate, DefaultRate = 1.0 };
        configure?.Invoke(options);
        var inner = Inner();
        var runner = new ShadowRunner(options, PriceBook.Default, (IShadowPairStore)Ledger.Store, options.JudgeClient ?? inner);
        _runners.Add(runner);
        return (new ShadowChatClient(inner, runner, PriceBook.Default), runner);
    }

    private async Task<List<ShadowPair>> PairsAsync()
    {
        var pairs = new List<ShadowPair>();
        await foreach (var pair in ((IShadowPairStore)Ledger.Store).ReadShadowPairsAsync())
        {
            pairs.Add(pair);
        }

        return pairs;
    }

    [Fact]
    public async Task The_caller_gets_its_answer_before_a_slow_shadow_call_finishes()
    {
        Server.Enqueue(_replies.Text("positive"));
        Server.Enqueue(_replies.Text("positive").WithDelay(TimeSpan.FromSeconds(5)));
        var (chat, runner) = Pipeline();

        var response = await chat.GetResponseAsync("Classify: I love it.", new ChatOptions { ModelId = Live });

        // The answer is back while the shadow call is still held by the upstream: nothing compared yet.
        Assert.Equal("positive", response.Text);
        Assert.False(runner.WhenIdleAsync().IsCompleted);
        Assert.Empty(await PairsAsync());

        await runner.WhenIdleAsync().WaitAsync(Wait);
        var pair = Assert.Single(await PairsAsync());
        Assert.Equal(1.0, pair.Agreement);
        Assert.Equal(Live, pair.LiveModel);
        Assert.Equal(Candidate, pair.ShadowModel);
    }

    [Fact]
    public async Task Live_and_shadow_records_share_the_pair_id_and_the_pair_row_has_costs_but_no_text()
    {
        Server.Enqueue(_replies.Text("Positive."));
        Server.Enqueue(_replies.Text("negative"));
        var (chat, runner) = Pipeline();
        var options = new ChatOptions { ModelId = Live }.WithTaskLabel("sentiment").WithRequestId("req-live-1");

        await chat.GetResponseAsync("Classify: I love it.", options);
        await runner.WhenIdleAsync().WaitAsync(Wait);

        var records = await CommittedRecordsAsync();
        Assert.Equal(2, records.Count);
        var live = Assert.Single(records, r => r.RequestId == "req-live-1");
        var shadow = Assert.Single(records, r => r.Policy == ShadowRunner.Policy);
        Assert.NotNull(live.ShadowPairId);
        Assert.Equal(live.ShadowPairId, shadow.ShadowPairId);
        Assert.Equal(live.ShadowPairId, shadow.RequestId);
        Assert.Equal(Candidate, shadow.RoutedModel);
        Assert.Equal("sentiment", shadow.TaskLabel);

        var pair = Assert.Single(await PairsAsync());
        Assert.Equal(live.ShadowPairId, pair.PairId);
        Assert.Equal("req-live-1", pair.LiveRequestId);
        Assert.Equal(ShadowComparison.Exact, pair.Method);
        Assert.Equal(0.0, pair.Agreement);
        Assert.Equal(live.Cost!.Value.Total, pair.LiveCostUsd);
        Assert.Equal(shadow.Cost!.Value.Total, pair.ShadowCostUsd);
        Assert.True(pair.ShadowCostUsd > pair.LiveCostUsd); // Sonnet costs more than Haiku for the same tokens
        Assert.Null(pair.Prompt);
        Assert.Null(pair.LiveAnswer);
        Assert.Null(pair.ShadowAnswer);
    }

    [Fact]
    public async Task Exact_match_ignores_case_quotes_and_trailing_punctuation()
    {
        Server.Enqueue(_replies.Text("Positive."));
        Server.Enqueue(_replies.Text("  \"positive\" "));
        var (chat, runner) = Pipeline();

        await chat.GetResponseAsync("Classify: I love it.", new ChatOptions { ModelId = Live });
        await runner.WhenIdleAsync().WaitAsync(Wait);

        Assert.Equal(1.0, Assert.Single(await PairsAsync()).Agreement);
    }

    [Fact]
    public async Task Json_comparison_scores_the_configured_fields_or_every_field()
    {
        Server.Enqueue(_replies.Text("{\"name\": \"Ada\", \"age\": 36}"));
        Server.Enqueue(_replies.Text("```json\n{\"age\": 37, \"name\": \"Ada\"}\n```"));
        Server.Enqueue(_replies.Text("{\"name\": \"Ada\", \"age\": 36}"));
        Server.Enqueue(_replies.Text("{\"age\": 37, \"name\": \"Ada\"}"));
        var (byField, fieldRunner) = Pipeline(o => { o.Comparison = ShadowComparison.Json; o.JsonFields = ["name"]; });
        var (allFields, allRunner) = Pipeline(o => o.Comparison = ShadowComparison.Json);

        await byField.GetResponseAsync("Extract the person.", new ChatOptions { ModelId = Live }.WithRequestId("by-field"));
        await fieldRunner.WhenIdleAsync().WaitAsync(Wait);
        await allFields.GetResponseAsync("Extract the person.", new ChatOptions { ModelId = Live }.WithRequestId("all-fields"));
        await allRunner.WhenIdleAsync().WaitAsync(Wait);

        var pairs = await PairsAsync();
        Assert.Equal(1.0, Assert.Single(pairs, p => p.LiveRequestId == "by-field").Agreement);
        Assert.Equal(0.5, Assert.Single(pairs, p => p.LiveRequestId == "all-fields").Agreement);
    }

    [Fact]
    public async Task A_judge_rates_free_text_and_its_call_is_recorded_and_priced_with_the_pair()
    {
        Server.Enqueue(_replies.Text("Paris is the capital of France."));
        Server.Enqueue(_replies.Text("The capital of France is Paris."));
        Server.Enqueue(_replies.Text("0.9"));
        var (chat, runner) = Pipeline(o => { o.Comparison = ShadowComparison.Judge; o.JudgeModel = "claude-haiku-4-5"; });

        await chat.GetResponseAsync("What is the capital of France?", new ChatOptions { ModelId = Live });
        await runner.WhenIdleAsync().WaitAsync(Wait);

        var pair = Assert.Single(await PairsAsync());
        Assert.Equal(0.9, pair.Agreement);
        Assert.Equal(ShadowComparison.Judge, pair.Method);
        var judge = Assert.Single(await CommittedRecordsAsync(), r => r.Policy == ShadowRunner.JudgePolicy);
        Assert.Equal(pair.PairId, judge.ShadowPairId);
        Assert.Equal(judge.Cost!.Value.Total, pair.JudgeCostUsd);
        Assert.True(pair.JudgeCostUsd > 0m);

        // The judge saw the request and both answers.
        var judgeBody = Server.MessageRequests[2].Body;
        Assert.Contains("What is the capital of France?", judgeBody, StringComparison.Ordinal);
        Assert.Contains("The capital of France is Paris.", judgeBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_shadow_call_never_fails_the_caller_and_is_recorded_as_such()
    {
        Server.Enqueue(_replies.Text("positive"));
        Server.Enqueue(FakeReply.ServerError());
        var (chat, runner) = Pipeline();

        var response = await chat.GetResponseAsync("Classify: I love it.", new ChatOptions { ModelId = Live });
        await runner.WhenIdleAsync().WaitAsync(Wait);

        Assert.Equal("positive", response.Text);
        var pair = Assert.Single(await PairsAsync());
        Assert.Equal("shadow_failed", pair.Status);
        Assert.Null(pair.Agreement);
        Assert.Equal(1, runner.Statistics.ShadowFailed);
        var shadow = Assert.Single(await CommittedRecordsAsync(), r => r.Policy == ShadowRunner.Policy);
        Assert.Equal(LedgerStatus.Error, shadow.Status);
    }

    [Fact]
    public async Task An_exhausted_shadow_budget_stops_sampling_and_says_so()
    {
        await using var budgets = new SqliteBudgetStore(DbPath);
        await budgets.MigrateAsync();
        Server.SetDefault(_replies.Text("positive"));
        var (chat, runner) = Pipeline(o => { o.TotalBudgetUsd = 0.000001m; o.BudgetStore = budgets; });

        await chat.GetResponseAsync("Classify: I love it.", new ChatOptions { ModelId = Live });
        await runner.WhenIdleAsync().WaitAsync(Wait);
        await chat.GetResponseAsync("Classify: I hate it.", new ChatOptions { ModelId = Live });
        await runner.WhenIdleAsync().WaitAsync(Wait);

        Assert.Equal(2, Server.MessageCount); // the two live calls only: no shadow call was made
        Assert.Empty(await PairsAsync());
        Assert.Equal(1, runner.Statistics.Sampled);
        Assert.Equal(2, runner.Statistics.BudgetExhausted); // refused by the budget, then not sampled at all
    }

    [Fact]
    public async Task Answers_are_stored_only_when_enabled_and_then_through_the_redaction_hook()
    {
        Server.Enqueue(_replies.Text("Mail ada@example.com"));
        Server.Enqueue(_replies.Text("Write to ada@example.com"));
        var (chat, runner) = Pipeline(o => { o.StoreAnswers = true; o.Redact = text => text.Replace("ada@example.com", "[email]", StringComparison.Ordinal); });

        await chat.GetResponseAsync("Who do I contact? ada@example.com", new ChatOptions { ModelId = Live });
        await runner.WhenIdleAsync().WaitAsync(Wait);

        var pair = Assert.Single(await PairsAsync());
        Assert.Equal("Who do I contact? [email]", pair.Prompt);
        Assert.Equal("Mail [email]", pair.LiveAnswer);
        Assert.Equal("Write to [email]", pair.ShadowAnswer);
    }

    [Fact]
    public async Task Unsampled_requests_are_not_shadowed()
    {
        Server.SetDefault(_replies.Text("positive"));
        var (chat, runner) = Pipeline(o => { o.DefaultRate = 0; o.Rates["sentiment"] = 1.0; });

        await chat.GetResponseAsync("Summarize this.", new ChatOptions { ModelId = Live }.WithTaskLabel("summary"));
        await chat.GetResponseAsync("Classify this.", new ChatOptions { ModelId = Live }.WithTaskLabel("Sentiment"));
        await runner.WhenIdleAsync().WaitAsync(Wait);

        Assert.Equal(3, Server.MessageCount);
        Assert.Equal("sentiment", Assert.Single(await PairsAsync()).TaskLabel, ignoreCase: true);
    }

    [Fact]
    public async Task A_full_queue_drops_jobs_instead_of_blocking_the_caller()
    {
        Server.Enqueue(_replies.Text("a"));
        Server.Enqueue(_replies.Text("a").WithDelay(TimeSpan.FromSeconds(6)));
        Server.SetDefault(_replies.Text("a"));
        var (chat, runner) = Pipeline(o => { o.QueueCapacity = 1; o.MaxConcurrency = 1; });

        await chat.GetResponseAsync("Classify.", new ChatOptions { ModelId = Live }.WithRequestId("r0"));

        // The first shadow call has taken the slow reply and holds the only worker; then five more live calls.
        using (var timeout = new CancellationTokenSource(Wait))
        {
            while (Server.MessageCount < 2)
            {
                await Task.Delay(20, timeout.Token);
            }
        }

        for (var i = 1; i < 6; i++)
        {
            await chat.GetResponseAsync("Classify.", new ChatOptions { ModelId = Live }.WithRequestId("r" + i));
        }

        await runner.WhenIdleAsync().WaitAsync(Wait);
        var stats = runner.Statistics;
        Assert.Equal(6, stats.Sampled);
        Assert.True(stats.Dropped >= 1, $"dropped {stats.Dropped}");
        Assert.Equal(6 - stats.Dropped, (await PairsAsync()).Count);
    }

    [Fact]
    public async Task A_call_the_candidate_would_refuse_is_skipped_not_sent()
    {
        var (chat, runner) = Pipeline(options => options.CandidateModel = "claude-opus-5-5");

        // Opus 5.5 accepts only the default sampling parameters: a call with a temperature is not shadowed there.
        await chat.GetResponseAsync("Classify.", new ChatOptions { ModelId = Live, Temperature = 0.2f });

        await runner.WhenIdleAsync().WaitAsync(Wait);
        Assert.Equal(1, runner.Statistics.Skipped);
        Assert.Equal(1, Server.MessageCount); // the live call only
    }

    public new async Task DisposeAsync()
    {
        foreach (var runner in _runners)
        {
            await runner.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}
