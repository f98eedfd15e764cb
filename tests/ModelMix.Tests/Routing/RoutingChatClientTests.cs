using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Pipeline;

public sealed class RoutingChatClientTests
{
    private const string Classify = "Classify the sentiment of this review as positive, negative or neutral: 'Great fit.'";

    /// <summary>The default rules send <see cref="Classify"/> to the haiku tier: the default catalog's claude-haiku-5-5.</summary>
    private const string CheapTier = "claude-haiku-5-5";

    private readonly ScriptedChatClient _inner = new("claude-sonnet-4-5");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

    private ModelRoutingChatClient Client(IRoutingPolicy? policy = null, Action<ModelRoutingOptions>? configure = null)
    {
        var options = new ModelRoutingOptions { TimeProvider = _time };
        configure?.Invoke(options);
        return new ModelRoutingChatClient(_inner, policy ?? RoutingConfiguration.CreatePolicy(new RoutingOptions(), PriceBook.Default), options);
    }

    [Fact]
    public async Task The_decision_is_written_into_a_copy_of_the_options_and_the_callers_options_are_untouched()
    {
        using var client = Client();
        var callerOptions = new ChatOptions().WithTaskLabel("triage");

        await client.GetResponseAsync(Classify, callerOptions);

        var sent = _inner.LastOptions!;
        Assert.NotSame(callerOptions, sent);
        Assert.Equal(CheapTier, sent.ModelId);
        Assert.Equal("rules", sent.GetPolicy());
        Assert.Contains("haiku", sent.GetRoutingReason(), StringComparison.Ordinal);
        Assert.Equal("auto", sent.GetRequestedModel());
        Assert.Equal(LedgerIds.New(_time.GetUtcNow()).Length, sent.GetRequestId()!.Length);
        Assert.Equal("triage", sent.GetTaskLabel());
        Assert.Null(callerOptions.ModelId);
        Assert.Null(callerOptions.GetPolicy());
        Assert.Null(callerOptions.GetRequestId());
    }

    [Fact]
    public async Task Calls_without_options_are_routed_too()
    {
        using var client = Client();

        await client.GetResponseAsync(Classify);

        Assert.Equal(CheapTier, _inner.LastOptions!.ModelId);
        Assert.Equal("rules", _inner.LastOptions.GetPolicy());
    }

    [Fact]
    public async Task Streaming_calls_are_routed_the_same_way()
    {
        _inner.Stream.Add(new ChatResponseUpdate(ChatRole.Assistant, "positive"));
        using var client = Client();

        var text = (await client.GetStreamingResponseAsync(Classify).ToChatResponseAsync()).Text;

        Assert.Equal("positive", text);
        Assert.Equal(CheapTier, _inner.LastOptions!.ModelId);
    }

    [Fact]
    public async Task A_callers_real_model_id_is_honoured_and_recorded_as_the_callers_choice()
    {
        using var client = Client();

        await client.GetResponseAsync(Classify, new ChatOptions { ModelId = "claude-opus-4-5" });

        Assert.Equal("claude-opus-4-5", _inner.LastOptions!.ModelId);
        Assert.Equal(ModelRoutingOptions.CallerPolicyName, _inner.LastOptions.GetPolicy());
        Assert.Equal("claude-opus-4-5", _inner.LastOptions.GetRequestedModel());
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("AUTO")]
    [InlineData("cheapest-good")]
    public async Task A_policy_alias_is_routed_by_the_policy_and_kept_as_the_requested_model(string alias)
    {
        using var client = Client(configure: o => o.Aliases.Add("cheapest-good"));

        await client.GetResponseAsync(Classify, new ChatOptions { ModelId = alias });

        Assert.Equal(CheapTier, _inner.LastOptions!.ModelId);
        Assert.Equal(alias, _inner.LastOptions.GetRequestedModel());
        Assert.Equal("rules", _inner.LastOptions.GetPolicy());
    }

    [Fact]
    public async Task When_not_honouring_requested_models_the_policy_decides_every_call()
    {
        using var client = Client(configure: o => o.HonourRequestedModel = false);

        await client.GetResponseAsync(Classify, new ChatOptions { ModelId = "claude-opus-4-5" });

        Assert.Equal(CheapTier, _inner.LastOptions!.ModelId);
        Assert.Equal("claude-opus-4-5", _inner.LastOptions.GetRequestedModel());
    }

    [Fact]
    public async Task An_existing_request_id_is_kept()
    {
        using var client = Client();

        await client.GetResponseAsync(Classify, new ChatOptions().WithRequestId("req-7"));

        Assert.Equal("req-7", _inner.LastOptions!.GetRequestId());
    }

    [Fact]
    public async Task A_pin_wins_over_the_rules_and_names_the_pinned_policy()
    {
        var policy = RoutingConfiguration.CreatePolicy(
            new RoutingOptions { Pins = new Dictionary<string, string> { ["checkout"] = "opus" } }, PriceBook.Default);
        using var client = Client(policy);

        await client.GetResponseAsync(Classify, new ChatOptions().WithTaskLabel("checkout"));

        Assert.Equal(PriceBook.Default.ResolveTier("opus"), _inner.LastOptions!.ModelId);
        Assert.Equal("pinned", _inner.LastOptions.GetPolicy());
    }

    [Fact]
    public async Task An_asynchronous_policy_is_awaited()
    {
        using var client = Client(new AsyncPolicy(new RoutingDecision("claude-sonnet-4-5", "meta says sonnet", 0.8, "meta")));

        await client.GetResponseAsync(Classify);

        Assert.Equal("claude-sonnet-4-5", _inner.LastOptions!.ModelId);
        Assert.Equal("meta", _inner.LastOptions.GetPolicy());
        Assert.Equal("meta says sonnet", _inner.LastOptions.GetRoutingReason());
    }

    [Fact]
    public async Task When_no_policy_decides_the_inner_default_model_serves_and_the_ledger_is_told()
    {
        using var client = Client(new AsyncPolicy(null));

        await client.GetResponseAsync(Classify, new ChatOptions { ModelId = "auto" });

        Assert.Null(_inner.LastOptions!.ModelId);
        Assert.Equal(ModelRoutingOptions.UndecidedPolicyName, _inner.LastOptions.GetPolicy());
    }

    [Fact]
    public void GetService_finds_the_stage_its_policy_and_what_is_below()
    {
        var policy = DefaultRules.Create();
        using var client = Client(policy);

        Assert.Same(client, client.GetService<ModelRoutingChatClient>());
        Assert.Same(policy, client.GetService<IRoutingPolicy>());
        Assert.Same(_inner, client.GetService<ScriptedChatClient>());
        Assert.Equal("claude-sonnet-4-5", client.GetService<ChatClientMetadata>()!.DefaultModelId);
    }

    private sealed class AsyncPolicy(RoutingDecision? decision) : IRoutingPolicy
    {
        public string Name => "async";

        public async ValueTask<RoutingDecision?> DecideAsync(RoutingRequest request, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            return decision;
        }
    }
}
