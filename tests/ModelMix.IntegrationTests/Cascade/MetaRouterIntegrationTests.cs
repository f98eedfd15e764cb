using Microsoft.Extensions.AI;
using ModelMix.IntegrationTests.Pipeline;
using ModelMix.IntegrationTests.Support;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.IntegrationTests.Cascade;

/// <summary>
/// The meta-router over real HTTP: its classifier call goes through the ledger stage, linked to the request. The
/// classification cost is worked out at the 4.x haiku tier (Haiku 4.5 $1/$5), so the policy runs on
/// <see cref="TestPrices.Tiers4x"/>.
/// </summary>
public sealed class MetaRouterIntegrationTests : LedgerPipelineTest, IDisposable
{
    private const string Haiku = "claude-haiku-4-5-20251001";
    private const string Opus = "claude-opus-4-6";
    private const string Sonnet = "claude-sonnet-4-6";
    private const string Prompt = "Review this OAuth 2.0 PKCE flow for token leakage and replay risks.";

    private readonly TextReplies _replies = new();

    public void Dispose() => _replies.Dispose();

    private IChatClient Pipeline() =>
        new ChatClientBuilder(Sdk.AsIChatClient("claude-haiku-4-5")).UseModelMixLedger(Recorder).Build();

    /// <summary>Routes one request the way a routing stage would: classify, then call the chosen model under the same request id.</summary>
    private static async Task<(RoutingDecision Decision, ChatResponse Response)> RouteAsync(MetaRouterPolicy policy, IChatClient chat, string requestId)
    {
        var decision = (await policy.DecideAsync(RoutingRequest.ForPrompt(Prompt, "security-review"), requestId))!.Value;
        var options = new ChatOptions { ModelId = decision.Model }
            .WithRequestId(requestId)
            .WithTaskLabel("security-review")
            .WithRouting(decision.Policy, decision.Reason);
        return (decision, await chat.GetResponseAsync(Prompt, options));
    }

    [Fact]
    public async Task Meta_router_routes_to_the_tier_it_was_told_and_the_classifier_cost_is_linked_to_the_request()
    {
        Server.Enqueue(_replies.Message("{\"tier\":\"opus\",\"reason\":\"security review of an auth flow\"}").WithUsage(input: 310, output: 18));
        Server.Enqueue(_replies.Message("Three risks: …").WithUsage(input: 40, output: 400));
        using var chat = Pipeline();
        var policy = new MetaRouterPolicy(chat, TestPrices.Tiers4x);

        var (decision, _) = await RouteAsync(policy, chat, "req-meta-1");

        Assert.Equal(Opus, decision.Model);
        Assert.Equal("meta-router → opus (claude-opus-4-6): security review of an auth flow", decision.Reason);
        var classifierRequest = Server.MessageRequests[0].Json!;
        Assert.Equal(Haiku, classifierRequest["model"]!.GetValue<string>());
        Assert.Equal("json_schema", classifierRequest["output_config"]!["format"]!["type"]!.GetValue<string>());
        Assert.Equal(200, classifierRequest["max_tokens"]!.GetValue<int>());
        Assert.Equal(Opus, Server.MessageRequests[1].Json!["model"]!.GetValue<string>());

        var records = await CommittedRecordsAsync();
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.Equal("req-meta-1", r.RequestId));
        Assert.All(records, r => Assert.Equal("meta", r.Policy));
        Assert.All(records, r => Assert.Equal("security-review", r.TaskLabel));
        var classification = records[0];
        Assert.Equal(Haiku, classification.RoutedModel);
        Assert.Equal("meta-router classification on haiku (claude-haiku-4-5-20251001)", classification.Reason);
        Assert.Equal(310 * 1m / 1_000_000 + 18 * 5m / 1_000_000, classification.Cost!.Value.Total);
        Assert.Equal(Opus, records[1].RoutedModel);
        Assert.Equal(decision.Reason, records[1].Reason);

        var totals = await Ledger.GetTotalsAsync(new LedgerQuery { RequestId = "req-meta-1" });
        Assert.Equal(records.Sum(r => r.Cost!.Value.Total), totals.TotalCost);
        Assert.Equal(1, policy.Statistics.Classified);
    }

    [Fact]
    public async Task A_malformed_classification_falls_back_to_the_default_tier_and_is_counted()
    {
        Server.Enqueue(_replies.Message("Sure! This one needs a strong model, maybe Opus or Sonnet."));
        Server.Enqueue(_replies.Message("Three risks: …"));
        using var chat = Pipeline();
        var policy = new MetaRouterPolicy(chat, TestPrices.Tiers4x);

        var (decision, _) = await RouteAsync(policy, chat, "req-meta-2");

        Assert.Equal(Sonnet, decision.Model);
        Assert.StartsWith("meta-router: malformed classification (not JSON", decision.Reason, StringComparison.Ordinal);
        Assert.EndsWith("→ fallback sonnet (claude-sonnet-4-6)", decision.Reason, StringComparison.Ordinal);
        Assert.Equal(1, policy.Statistics.Malformed);
        Assert.Equal(Sonnet, Server.MessageRequests[1].Json!["model"]!.GetValue<string>());
        var records = await CommittedRecordsAsync();
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.Equal("req-meta-2", r.RequestId));
        Assert.NotNull(records[0].Cost);
        Assert.Equal(decision.Reason, records[1].Reason);
    }

    [Fact]
    public async Task A_classifier_error_answer_falls_back_and_is_still_recorded()
    {
        Server.Enqueue(FakeAnthropic.FakeReply.Overloaded());
        using var chat = Pipeline();
        var policy = new MetaRouterPolicy(chat, TestPrices.Tiers4x, new MetaRouterOptions { DefaultTier = "haiku" });

        var decision = await policy.DecideAsync(RoutingRequest.ForPrompt(Prompt), "req-meta-3");

        Assert.Equal(Haiku, decision!.Value.Model);
        Assert.Contains("classifier call failed", decision.Value.Reason, StringComparison.Ordinal);
        Assert.Equal(1, policy.Statistics.Failed);
        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal("req-meta-3", record.RequestId);
        Assert.Equal(LedgerStatus.Error, record.Status);
        Assert.Equal("overloaded_error", record.ErrorType);
    }
}
