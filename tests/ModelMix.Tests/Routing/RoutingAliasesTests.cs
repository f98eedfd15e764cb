using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;
using ModelMix.Tests.Pipeline;

namespace ModelMix.Tests.Routing;

/// <summary>
/// The routing aliases registered by name (<see cref="RoutingAliases"/>, <c>AddRoutingPolicy</c>): the library door
/// routes a <c>ChatOptions.ModelId</c> that names one with its policy, as the proxy routes a request's <c>model</c>.
/// </summary>
public sealed class RoutingAliasesTests
{
    private const string Classify = "Classify the sentiment of this review as positive, negative or neutral: 'Great fit.'";

    /// <summary>A long design question: the default rules' catch-all sends it to sonnet; without the catch-all (auto-cheap) it goes to haiku.</summary>
    private const string Essay = "Compare these two approaches to organising a team's weekly planning meeting and say which you would pick.";

    private readonly ScriptedChatClient _inner = new("claude-sonnet-4-5");

    private static ServiceProvider Services(Dictionary<string, string?>? settings = null, Action<IServiceCollection>? configure = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings ?? []).Build();
        var services = new ServiceCollection();
        services.AddModelMix(configuration);
        configure?.Invoke(services);
        return services.BuildServiceProvider();
    }

    private IChatClient Client(IServiceProvider services) => new ChatClientBuilder(_inner).UseModelMixRouting().Build(services);

    [Fact]
    public async Task A_policy_registered_by_name_serves_its_alias_at_the_library_door()
    {
        await using var services = Services(configure: s => s.AddRoutingPolicy<AlwaysOpus>("auto-opus"));
        using var client = Client(services);

        await client.GetResponseAsync(Classify, new ChatOptions { ModelId = "auto-opus" });

        var sent = _inner.LastOptions!;
        Assert.Equal(PriceBook.Default.ResolveTier("opus"), sent.ModelId);
        Assert.Equal("always-opus", sent.GetPolicy());
        Assert.Equal("auto-opus", sent.GetRequestedModel());

        await client.GetResponseAsync(Classify); // no model: the map's auto (ModelMix:Routing, the default rules)
        Assert.Equal("rules", _inner.LastOptions!.GetPolicy());
    }

    [Fact]
    public async Task A_configured_alias_and_auto_cheap_are_routed_at_the_library_door_as_at_the_proxy()
    {
        await using var services = Services(new()
        {
            ["ModelMix:Aliases:bulk:Default"] = "haiku",
            ["ModelMix:Aliases:bulk:Rules:0:Name"] = "everything-cheap",
            ["ModelMix:Aliases:bulk:Rules:0:Target"] = "haiku",
        });
        using var client = Client(services);

        await client.GetResponseAsync(Essay, new ChatOptions { ModelId = "BULK" });
        Assert.Contains("everything-cheap", _inner.LastOptions!.GetRoutingReason(), StringComparison.Ordinal);
        Assert.Equal(PriceBook.Default.ResolveTier("haiku"), _inner.LastOptions!.ModelId);

        await client.GetResponseAsync(Essay, new ChatOptions { ModelId = "auto" });
        var auto = _inner.LastOptions!.ModelId;
        await client.GetResponseAsync(Essay, new ChatOptions { ModelId = "auto-cheap" });
        Assert.Equal(PriceBook.Default.ResolveTier("haiku"), _inner.LastOptions!.ModelId);
        Assert.NotEqual(auto, _inner.LastOptions.ModelId); // auto's catch-all would not have sent it there
    }

    [Fact]
    public async Task A_later_registration_of_a_name_replaces_the_policy_and_keeps_the_first_spelling()
    {
        await using var services = Services(configure: s => s
            .AddRoutingPolicy("auto-x", _ => new DefaultPolicy("haiku", PriceBook.Default, name: "first"))
            .AddRoutingPolicy("AUTO-X", _ => new DefaultPolicy("opus", PriceBook.Default, name: "second")));
        var aliases = services.GetRequiredService<RoutingAliases>();

        Assert.Equal("second", aliases.GetPolicy("auto-x").Name);
        Assert.Single(aliases.Names, name => string.Equals(name, "auto-x", StringComparison.OrdinalIgnoreCase));
        Assert.True(aliases.TryGetName("AUTO-X", out var defined));
        Assert.Equal("auto-x", defined);
        Assert.Equal([RoutingAliases.Auto, RoutingAliases.AutoCheap, "auto-x"], aliases.Names);
    }

    [Fact]
    public async Task An_alias_that_is_a_model_id_fails_naming_where_it_was_registered()
    {
        await using var services = Services(configure: s => s.AddRoutingPolicy<AlwaysOpus>("claude-haiku-4-5"));

        var error = Assert.Throws<RoutingConfigurationException>(() => services.GetRequiredService<RoutingAliases>());

        Assert.Equal("'AddRoutingPolicy(\"claude-haiku-4-5\")': the alias 'claude-haiku-4-5' is also a model id in the price book; pick another name.", error.Message);
    }

    [Fact]
    public async Task A_bad_configured_alias_fails_the_library_start_with_the_proxys_message()
    {
        await using var services = Services(new()
        {
            ["ModelMix:Aliases:claude-haiku-4-5:Default"] = "haiku",
            ["ModelMix:Aliases:broken:Rules:0:Name"] = "broken-rule",
            ["ModelMix:Aliases:broken:Rules:0:Target"] = "claude-nonexistent-1",
        });

        // ValidateOnStart runs this check when the host starts; the options factory runs it on first use.
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<RoutingAliasOptions>>().Value);

        Assert.Contains("'ModelMix:Aliases:claude-haiku-4-5': the alias 'claude-haiku-4-5' is also a model id in the price book; pick another name.", error.Failures);
        Assert.Contains(error.Failures, failure => failure.Contains("ModelMix:Aliases:broken", StringComparison.Ordinal) && failure.Contains("broken-rule", StringComparison.Ordinal));
    }

    private sealed class AlwaysOpus(PriceBook prices) : IRoutingPolicy
    {
        public string Name => "always-opus";

        public ValueTask<RoutingDecision?> DecideAsync(RoutingRequest request, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<RoutingDecision?>(new RoutingDecision(prices.ResolveTier("opus"), "always", 1.0, Name));
    }
}
