using System.Diagnostics;
using Anthropic;
using Anthropic.Core;
using FakeAnthropic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using ModelMix.IntegrationTests.Pipeline;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;
using ModelMix.Telemetry;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace ModelMix.IntegrationTests.Hosting;

/// <summary>
/// Where Microsoft.Extensions.AI's own stages go around ModelMix's (docs/library.md, "Middleware order"): the
/// distributed cache, function invocation and OpenTelemetry, over real HTTP to FakeAnthropic with the SQLite ledger.
/// </summary>
public sealed class PipelineOrderTests : LedgerPipelineTest
{
    private static readonly ActivitySource TestSource = new("ModelMix.IntegrationTests");

    private static readonly IRoutingPolicy Rules = RoutingConfiguration.CreatePolicy(new RoutingOptions(), PriceBook.Default);

    private static readonly AIFunction Weather = AIFunctionFactory.Create((string city, string unit) => $"18 degrees {unit} in {city}", "get_weather");

    private AnthropicClient QuietSdk() => new(new ClientOptions
    {
        ApiKey = "test-key",
        BaseUrl = Server.BaseUrl.ToString(),
        MaxRetries = 0,
        OpenTelemetry = false, // the recipe: the SDK's own spans off, so M.E.AI's is the one GenAI span per call
    });

    [Fact]
    public async Task A_distributed_cache_below_routing_hits_on_the_second_identical_call()
    {
        var cache = new MemoryDistributedCache(Options.Create(new MemoryDistributedCacheOptions()));
        using var chat = new ChatClientBuilder(Sdk.AsIChatClient("claude-sonnet-4-5"))
            .UseModelMixRouting(Rules)
            .UseDistributedCache(cache)
            .UseModelMixLedger(Recorder)
            .Build();

        var first = await chat.GetResponseAsync("Classify the sentiment of this review: 'The jacket fits well.'");
        var second = await chat.GetResponseAsync("Classify the sentiment of this review: 'The jacket fits well.'");

        Assert.Equal(first.Text, second.Text);
        Assert.Single(Server.MessageRequests); // the second answer came from the cache
        Assert.Single(await CommittedRecordsAsync());
        Assert.Equal(0m, second.GetCostUsd()); // a cache hit made no attempt, so it cost nothing
        Assert.NotEqual(first.GetRequestId(), second.GetRequestId());
    }

    [Fact]
    public async Task Function_invocation_below_routing_is_one_request_with_numbered_attempts()
    {
        Server.Enqueue(FakeReply.Message("messages/response-tool-use.json"));
        Server.Enqueue(FakeReply.Message());
        using var chat = new ChatClientBuilder(Sdk.AsIChatClient("claude-sonnet-4-5"))
            .UseModelMixRouting(Rules)
            .UseFunctionInvocation()
            .UseModelMixLedger(Recorder)
            .Build();

        var answer = await chat.GetResponseAsync("Should I take a jacket in Paris today?", new ChatOptions { Tools = [Weather] });

        var records = await CommittedRecordsAsync();
        Assert.Equal(2, Server.MessageRequests.Count);
        Assert.Equal([1, 2], records.Select(r => r.Attempt));
        Assert.Single(records.Select(r => r.RequestId).Distinct());
        Assert.Equal(answer.GetRequestId(), records[0].RequestId);
        Assert.Equal(2, answer.GetAttempts());
    }

    [Fact]
    public async Task Function_invocation_above_routing_keeps_one_request_id_and_one_model_for_the_tool_loop()
    {
        Server.Enqueue(FakeReply.Message("messages/response-tool-use.json"));
        Server.Enqueue(FakeReply.Message());
        using var chat = new ChatClientBuilder(Sdk.AsIChatClient("claude-sonnet-4-5"))
            .UseFunctionInvocation()
            .UseModelMixRouting(Rules)
            .UseModelMixFallback()
            .UseModelMixLedger(Recorder)
            .Build();

        await chat.GetResponseAsync("Should I take a jacket in Paris today?", new ChatOptions { Tools = [Weather] });

        var records = await CommittedRecordsAsync();
        Assert.Equal(2, records.Count);
        Assert.Equal([1, 2], records.Select(r => r.Attempt));
        Assert.Single(records.Select(r => r.RequestId).Distinct());
        Assert.Single(records.Select(r => r.RoutedModel).Distinct());
        Assert.Equal(records[0].Reason, records[1].Reason);
        Assert.Equal(records[0].RoutedModel, Server.MessageRequests[1].Json!["model"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_new_question_after_a_tool_loop_is_a_new_request()
    {
        Server.Enqueue(FakeReply.Message("messages/response-tool-use.json"));
        Server.Enqueue(FakeReply.Message());
        Server.Enqueue(FakeReply.Message());
        using var chat = new ChatClientBuilder(Sdk.AsIChatClient("claude-sonnet-4-5"))
            .UseFunctionInvocation()
            .UseModelMixRouting(Rules)
            .UseModelMixLedger(Recorder)
            .Build();
        var options = new ChatOptions { Tools = [Weather] };

        var first = await chat.GetResponseAsync("Should I take a jacket in Paris today?", options);
        var second = await chat.GetResponseAsync("And in Rome?", options);

        var records = await CommittedRecordsAsync();
        Assert.Equal(3, records.Count);
        Assert.Equal(records[0].RequestId, records[1].RequestId);
        Assert.NotEqual(records[0].RequestId, records[2].RequestId);
        Assert.Equal(1, records[2].Attempt);
        Assert.NotEqual(first.GetRequestId(), second.GetRequestId());
    }

    [Fact]
    public async Task Spans_carry_the_decision_per_request_and_the_cost_per_attempt_with_one_GenAI_span_per_upstream_call()
    {
        var spans = new ExportedSpans(); // AddSource("*") also exports other tests' spans, from their threads
        using var tracing = OpenTelemetry.Sdk.CreateTracerProviderBuilder().AddSource("*").AddInMemoryExporter(spans).Build();
        Server.Enqueue(FakeReply.Overloaded());
        Server.Enqueue(FakeReply.Message().WithUsage(input: 1000, output: 200));
        using var sdk = QuietSdk();
        using var chat = new ChatClientBuilder(sdk.AsIChatClient("claude-sonnet-4-5"))
            .UseModelMixRouting(Rules)
            .UseModelMixFallback(o =>
            {
                o.Chain = ["opus", "sonnet"];
                o.MaxRetriesPerModel = 0;
            })
            .UseOpenTelemetry() // below fallback: one GenAI span per attempt, named after the attempt's model
            .UseModelMixLedger(Recorder)
            .Build();

        ActivityTraceId trace;
        using (var root = TestSource.StartActivity("test"))
        {
            trace = root!.TraceId;
            await chat.GetResponseAsync("Approve this order.", new ChatOptions { ModelId = PriceBook.Default.ResolveTier("opus") });
        }

        tracing.ForceFlush();
        var mine = spans.Snapshot().Where(s => s.TraceId == trace).ToList();
        var request = Assert.Single(mine, s => s.OperationName == ModelMixActivity.RequestSpanName);
        Assert.Equal("caller", request.GetTagItem("modelmix.policy"));
        Assert.Equal(PriceBook.Default.ResolveTier("opus"), request.GetTagItem("gen_ai.request.model"));
        Assert.Equal("anthropic", request.GetTagItem("gen_ai.provider.name"));
        Assert.Equal("opus", request.GetTagItem("modelmix.tier"));
        // $0 for the 529, then the sonnet tier (Sonnet 5.5 at $2 / $10 per MTok): 1,000 × 2 / 1e6 + 200 × 10 / 1e6 = $0.004.
        Assert.Equal("0.004", request.GetTagItem("modelmix.cost_usd"));
        var attempts = mine.Where(s => s.OperationName == ModelMixActivity.AttemptSpanName).OrderBy(s => s.GetTagItem("modelmix.attempt")).ToList();
        Assert.Equal([1, 2], attempts.Select(s => (int)s.GetTagItem("modelmix.attempt")!));
        Assert.Equal("overloaded_error", attempts[0].GetTagItem("error.type"));
        var sonnet = PriceBook.Default.ResolveTier("sonnet");
        Assert.Equal(sonnet, attempts[1].GetTagItem("gen_ai.request.model"));
        Assert.Equal(1000L, attempts[1].GetTagItem("gen_ai.usage.input_tokens"));
        Assert.Equal(200L, attempts[1].GetTagItem("gen_ai.usage.output_tokens"));
        Assert.Equal("0.004", attempts[1].GetTagItem("modelmix.cost_usd"));
        Assert.Equal("none", attempts[1].GetTagItem("modelmix.cache"));
        var genAi = mine.Where(s => s.GetTagItem("gen_ai.operation.name") is not null).ToList();
        Assert.Equal(Server.MessageRequests.Count, genAi.Count); // exactly one GenAI span per upstream call
        Assert.All(genAi, s => Assert.Equal(request.SpanId, s.ParentSpanId)); // request → chat (M.E.AI) → attempt (ledger)
        Assert.All(attempts, s => Assert.Contains(s.ParentSpanId, genAi.Select(g => g.SpanId)));
        Assert.Equal([$"chat {PriceBook.Default.ResolveTier("opus")}", $"chat {sonnet}"], genAi.OrderBy(s => s.StartTimeUtc).Select(s => s.DisplayName));
    }

    [Fact]
    public async Task UseOpenTelemetry_above_routing_names_its_span_after_the_routed_model()
    {
        var spans = new ExportedSpans(); // AddSource("*") also exports other tests' spans, from their threads
        using var tracing = OpenTelemetry.Sdk.CreateTracerProviderBuilder().AddSource("*").AddInMemoryExporter(spans).Build();
        using var sdk = QuietSdk();
        using var chat = new ChatClientBuilder(sdk.AsIChatClient("claude-sonnet-4-5"))
            .UseOpenTelemetry()
            .UseModelMixRouting(Rules)
            .UseModelMixLedger(Recorder)
            .Build();

        ActivityTraceId trace;
        using (var root = TestSource.StartActivity("test"))
        {
            trace = root!.TraceId;
            await chat.GetResponseAsync("Please do an architecture review of our payment service: queues, retries, idempotency and failure modes.");
        }

        tracing.ForceFlush();
        var opus = PriceBook.Default.ResolveTier("opus");
        var chatSpan = Assert.Single(spans.Snapshot(), s => s.TraceId == trace && s.GetTagItem("gen_ai.operation.name") is not null);
        Assert.Equal($"chat {opus}", chatSpan.DisplayName); // not the client's default, claude-sonnet-4-5
        Assert.Equal(opus, chatSpan.GetTagItem("gen_ai.request.model"));
    }

    /// <summary>
    /// The in-memory exporter's collection, safe to read while other tests' spans (every source is listened to) are
    /// exported into it from their own threads: a plain list failed a read with "Collection was modified" in CI.
    /// </summary>
    private sealed class ExportedSpans : System.Collections.ObjectModel.Collection<Activity>
    {
        private readonly object _gate = new();

        public Activity[] Snapshot()
        {
            lock (_gate)
            {
                return [.. Items];
            }
        }

        protected override void InsertItem(int index, Activity item)
        {
            lock (_gate)
            {
                base.InsertItem(index, item);
            }
        }

        protected override void ClearItems()
        {
            lock (_gate)
            {
                base.ClearItems();
            }
        }
    }
}
