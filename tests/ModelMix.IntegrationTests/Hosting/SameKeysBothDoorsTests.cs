using System.Net;
using FakeAnthropic;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelMix.Hosting;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Hosting;

/// <summary>
/// A <c>ModelMix:*</c> key means the same on both doors (issue 21): the library's <c>AddModelMix</c> and the proxy bind
/// <c>ModelMix:LoopGuard</c> and <c>ModelMix:Fallback</c> with one binder and one validator, and the proxy honours the
/// keys it used to ignore; its old key names still work for one release, with a start-up warning.
/// </summary>
public sealed class SameKeysBothDoorsTests
{
    private const string Plain = """{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}""";

    private static IConfiguration Config(Dictionary<string, string?> settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build();

    private static ServiceProvider LibraryDoor(IConfiguration configuration) =>
        new ServiceCollection().AddLogging().AddModelMix(configuration).BuildServiceProvider();

    private static ServiceProvider ProxyDoor(IConfiguration configuration)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(PriceBook.Default);
        services.AddOptions<ProxyOptions>().Bind(configuration.GetSection(ProxyOptions.SectionName));
        ProxyLoopGuard.AddServices(services, configuration);
        ProxyFallback.AddServices(services, configuration);
        ProxyGuards.AddServices(services, configuration);
        return services.BuildServiceProvider();
    }

    [Fact]
    public void The_loop_guard_section_binds_alike_on_both_doors_the_old_key_included()
    {
        var configuration = Config(new()
        {
            ["ModelMix:LoopGuard:MaxStepsPerSession"] = "7",
            ["ModelMix:LoopGuard:MaxSpendPerMinuteUsd"] = "0.5",
            ["ModelMix:LoopGuard:MaxSpendPerSession"] = "2",
        });
        using var library = LibraryDoor(configuration);
        using var proxy = ProxyDoor(configuration);

        foreach (var options in new[] { library, proxy }.Select(door => door.GetRequiredService<IOptions<LoopGuardOptions>>().Value))
        {
            Assert.Equal(7, options.MaxStepsPerSession);
            Assert.Equal(0.5m, options.MaxSpendPerWindow);
            Assert.Equal(TimeSpan.FromMinutes(1), options.SpendWindow);
            Assert.Equal(2m, options.MaxSpendPerSession);
            Assert.Equal(3, options.MaxRepeatedToolCalls); // the default, on both doors once the section is there
            Assert.Equal(["MaxSpendPerMinuteUsd"], options.ObsoleteKeys);
        }
    }

    [Fact]
    public void A_bad_loop_guard_value_is_refused_alike_on_both_doors()
    {
        var configuration = Config(new() { ["ModelMix:LoopGuard:MaxRepeatedToolCalls"] = "0" });
        using var library = LibraryDoor(configuration);
        using var proxy = ProxyDoor(configuration);

        foreach (var door in new[] { library, proxy })
        {
            var error = Assert.Throws<OptionsValidationException>(() => door.GetRequiredService<IOptions<LoopGuardOptions>>().Value);
            Assert.Contains("ModelMix:LoopGuard:MaxRepeatedToolCalls", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_fallback_section_binds_alike_on_both_doors()
    {
        var configuration = Config(new()
        {
            ["ModelMix:Fallback:Chain:0"] = "opus",
            ["ModelMix:Fallback:Chain:1"] = "sonnet",
            ["ModelMix:Fallback:MaxRetriesPerModel"] = "1",
        });
        using var library = LibraryDoor(configuration);
        using var proxy = ProxyDoor(configuration);

        var libraryOptions = library.GetRequiredService<IOptions<FallbackOptions>>().Value;
        var proxyFallback = proxy.GetRequiredService<ProxyFallback>();

        Assert.Equal(1, libraryOptions.MaxRetriesPerModel);
        Assert.Equal(1, proxyFallback.MaxRetriesPerModel);
        Assert.Equal([PriceBook.Default.ResolveTier("opus"), PriceBook.Default.ResolveTier("sonnet")], proxyFallback.Chain);
        Assert.Equal(proxyFallback.Chain, new FallbackChatClient(new NoClient(), libraryOptions).Chain);
    }

    [Fact]
    public void A_model_listed_twice_in_the_chain_is_refused_on_both_doors()
    {
        var configuration = Config(new() { ["ModelMix:Fallback:Chain:0"] = "haiku", ["ModelMix:Fallback:Chain:1"] = "haiku" });
        using var library = LibraryDoor(configuration);
        using var proxy = ProxyDoor(configuration);

        foreach (var door in new[] { library, proxy })
        {
            var error = Assert.Throws<OptionsValidationException>(() => door.GetRequiredService<IOptions<FallbackOptions>>().Value);
            Assert.Contains("'ModelMix:Fallback:Chain:1' lists", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_tier_drift_section_binds_and_is_checked_alike_on_both_doors()
    {
        var good = Config(new() { ["ModelMix:TierDrift:MaxShare:opus"] = "0.2", ["ModelMix:TierDrift:WindowDuration"] = "00:10:00" });
        var bad = Config(new() { ["ModelMix:TierDrift:MaxShare:gpt4"] = "0.2" });
        using var library = LibraryDoor(good);
        using var proxy = ProxyDoor(good);
        using var badLibrary = LibraryDoor(bad);
        using var badProxy = ProxyDoor(bad);

        foreach (var options in new[] { library, proxy }.Select(door => door.GetRequiredService<IOptions<TierDriftOptions>>().Value))
        {
            Assert.Equal(0.2, options.MaxShare["opus"]);
            Assert.Equal(TimeSpan.FromMinutes(10), options.WindowDuration); // the proxy used to read only MaxShare, WindowCalls and MinCalls
        }

        Assert.NotNull(proxy.GetRequiredService<ProxyGuards>().TierDrift);
        foreach (var door in new[] { badLibrary, badProxy })
        {
            var error = Assert.Throws<OptionsValidationException>(() => door.GetRequiredService<IOptions<TierDriftOptions>>().Value);
            Assert.Contains("'gpt4' is not a tier of the price book", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_proxy_honours_MaxRetriesPerModel()
    {
        // Was ignored: the proxy retried ModelMix:MaxRetries (2) times and answered 200 from the second attempt.
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:Fallback:MaxRetriesPerModel"] = "0");
        harness.Fake.Enqueue(FakeReply.Overloaded());

        using var http = harness.Http();
        using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json(Plain));

        Assert.Equal((HttpStatusCode)529, response.StatusCode);
        Assert.Equal(1, harness.Fake.MessageCount);
    }

    [Fact]
    public async Task The_proxys_old_MaxRetries_key_still_works_for_now_with_a_warning()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:MaxRetries"] = "0");
        harness.Fake.Enqueue(FakeReply.Overloaded());

        using var http = harness.Http();
        using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json(Plain));

        Assert.Equal((HttpStatusCode)529, response.StatusCode);
        Assert.Equal(1, harness.Fake.MessageCount);
        Assert.Contains(harness.Logs.Lines, line => line.Contains("ModelMix:MaxRetries is an old name", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_proxy_honours_MaxSpendPerWindow_and_SpendWindow()
    {
        // Was ignored (the proxy knew only MaxSpendPerMinuteUsd). Each Haiku 4.5 answer of the fake costs $0.000184
        // (19 in × $1 / 1e6 + 33 out × $5 / 1e6 = 0.000019 + 0.000165); two reach $0.000368 ≥ $0.0003.
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:LoopGuard:MaxSpendPerWindow"] = "0.0003";
            settings["ModelMix:LoopGuard:SpendWindow"] = "00:05:00";
        });

        for (var i = 0; i < 2; i++)
        {
            using var ok = await ProxyGuardTests.PostAsync(harness, Plain, "burst");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var third = await ProxyGuardTests.PostAsync(harness, Plain, "burst");
        Assert.Equal(HttpStatusCode.BadRequest, third.StatusCode);
        var message = (await ProxyValidationTests.ReadErrorAsync(third)).Message;
        Assert.Contains("in the last 00:05:00", message, StringComparison.Ordinal);
        Assert.Contains("ModelMix:LoopGuard:MaxSpendPerWindow", message, StringComparison.Ordinal);
    }

    /// <summary>An inner client for building a stage only; never called.</summary>
    private sealed class NoClient : Microsoft.Extensions.AI.IChatClient
    {
        public Task<Microsoft.Extensions.AI.ChatResponse> GetResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, Microsoft.Extensions.AI.ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public IAsyncEnumerable<Microsoft.Extensions.AI.ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, Microsoft.Extensions.AI.ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
