using Anthropic.Exceptions;
using Microsoft.Extensions.AI;
using ModelMix.IntegrationTests.Pipeline;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.IntegrationTests.Catalog;

/// <summary>
/// The library door: <c>UseModelMixRouting</c> (and <c>UseModelMixFallback</c>) over the official SDK's
/// <c>AsIChatClient</c>, against FakeAnthropic enforcing the per-model rules. Every call feature ChatOptions can express
/// × every tier a policy can pick: routing never turns a valid call into a 400.
/// </summary>
public sealed class LibraryRoutingRuleMatrixTests : LedgerPipelineTest
{
    private static readonly string[] Tiers = ["haiku", "sonnet", "opus", "fable"];

    private static readonly AIFunction Lookup = AIFunctionFactory.Create((string id) => id, "lookup", "Looks a record up.");

    private static readonly Dictionary<string, Func<(List<ChatMessage> Messages, ChatOptions Options)>> Features = new()
    {
        ["plain"] = () => (Ask(), new ChatOptions()),
        ["forced-any"] = () => (Ask(), new ChatOptions { Tools = [Lookup], ToolMode = ChatToolMode.RequireAny }),
        ["forced-tool"] = () => (Ask(), new ChatOptions { Tools = [Lookup], ToolMode = ChatToolMode.RequireSpecific("lookup") }),
        ["temperature"] = () => (Ask(), new ChatOptions { Temperature = 0.2f }),
        ["top-k"] = () => (Ask(), new ChatOptions { TopK = 5 }),
        ["temperature-and-top-p"] = () => (Ask(), new ChatOptions { Temperature = 0.5f, TopP = 0.9f }),
        ["forced-and-temperature"] = () => (Ask(), new ChatOptions { Tools = [Lookup], ToolMode = ChatToolMode.RequireAny, Temperature = 0.3f }),
        ["prefill"] = () => ([.. Ask(), new ChatMessage(ChatRole.Assistant, "The main risk is")], new ChatOptions()),
        ["max-tokens-100k"] = () => (Ask(), new ChatOptions { MaxOutputTokens = 100_000 }),
    };

    private static List<ChatMessage> Ask() => [new(ChatRole.User, "Review the architecture of our billing service.")];

    [Fact]
    public async Task No_tier_a_policy_picks_turns_a_valid_call_into_a_400()
    {
        Assert.True(Server.EnforceModelRules);
        var rejected = new List<string>();
        var cases = 0;
        foreach (var tier in Tiers)
        {
            using var client = new ChatClientBuilder(Sdk.AsIChatClient("claude-haiku-5-5"))
                .UseModelMixRouting(new DefaultPolicy(tier, PriceBook.Default))
                .Build();
            foreach (var (name, feature) in Features)
            {
                cases++;
                var (messages, options) = feature();
                options.MaxOutputTokens ??= 1024;
                try
                {
                    await client.GetResponseAsync(messages, options);
                }
                catch (AnthropicBadRequestException exception)
                {
                    rejected.Add($"{name} × {tier}: {exception.Message}");
                }
            }
        }

        Assert.Equal(Tiers.Length * Features.Count, cases);
        Assert.Empty(rejected);
    }

    [Fact]
    public async Task The_fallback_chain_passes_over_models_that_would_reject_the_call()
    {
        using var client = new ChatClientBuilder(Sdk.AsIChatClient("claude-haiku-5-5"))
            .UseModelMixRouting(new DefaultPolicy("haiku", PriceBook.Default))
            .UseModelMixFallback(options =>
            {
                options.Chain = ["haiku", "opus", "sonnet"];
                options.MaxRetriesPerModel = 0;
            })
            .Build();
        Server.Enqueue(FakeAnthropic.FakeReply.Overloaded());

        // Forced tool use: Opus 5.5 and Sonnet 5.5 reject it, so the chain's next model after Haiku 5.5 is Opus 5 (Opus 5.5's fit).
        await client.GetResponseAsync(Ask(), new ChatOptions { Tools = [Lookup], ToolMode = ChatToolMode.RequireAny, MaxOutputTokens = 256 });

        var models = Server.MessageRequests.Select(request => request.Json!["model"]!.GetValue<string>()).ToList();
        Assert.Equal(["claude-haiku-5-5", "claude-opus-5"], models);
    }

    [Fact]
    public async Task The_confidence_cascade_climbs_tiers_that_accept_the_call()
    {
        using var client = new ChatClientBuilder(Sdk.AsIChatClient("claude-haiku-5-5")).UseModelMixCascade().Build();
        var rejected = new List<string>();
        foreach (var (name, feature) in Features)
        {
            var (messages, options) = feature();
            options.MaxOutputTokens ??= 1024;
            try
            {
                // FakeAnthropic's answers carry no confidence, so every call climbs to the top tier.
                await client.GetResponseAsync(messages, options);
            }
            catch (AnthropicBadRequestException exception)
            {
                rejected.Add($"{name} × cascade: {exception.Message}");
            }
        }

        Assert.Empty(rejected);
        Assert.Contains(Server.MessageRequests, request => request.Json!["model"]!.GetValue<string>() == "claude-opus-5"); // Opus 5.5's fit for forced tool use
    }

    [Fact]
    public async Task Without_routing_the_upstream_refuses_so_the_matrix_can_fail()
    {
        using var client = Sdk.AsIChatClient("claude-opus-5-5");

        await Assert.ThrowsAsync<AnthropicBadRequestException>(() => client.GetResponseAsync(Ask(), new ChatOptions { Tools = [Lookup], ToolMode = ChatToolMode.RequireAny, MaxOutputTokens = 256 }));
    }
}
