using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ModelMix.Server.Tests;

/// <summary>
/// What the proxy decides from its bound options rather than from reading the configuration while registering: the listen
/// addresses of the loopback-or-keys check, the old <c>ModelMix:MaxRetries</c> key, and whether the loop guard and shadow
/// mode are on.
/// </summary>
public sealed class HostingOptionsTests
{
    [Fact]
    public void The_listen_addresses_are_bound_from_urls_and_every_kestrel_endpoint()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:5000; http://localhost:5001",
            ["Kestrel:Endpoints:Inside:Url"] = "http://[::1]:5002",
            ["Kestrel:Endpoints:Inside:Protocols"] = "Http1", // other endpoint keys are not read
        }).Build();
        var services = new ServiceCollection();
        ListenAddresses.Add(services, configuration);
        using var provider = services.BuildServiceProvider();

        var binding = new AuthBinding(provider.GetRequiredService<IOptions<ListenAddresses>>());

        Assert.Equal(["http://127.0.0.1:5000", "http://localhost:5001", "http://[::1]:5002"], binding.Urls);
        Assert.True(binding.LoopbackOnly);

        configuration["Kestrel:Endpoints:Public:Url"] = "http://0.0.0.0:5003"; // one endpoint open to the network is enough
        services = new ServiceCollection();
        ListenAddresses.Add(services, configuration);
        using var open = services.BuildServiceProvider();
        Assert.False(new AuthBinding(open.GetRequiredService<IOptions<ListenAddresses>>()).LoopbackOnly);
    }

    [Fact]
    public void No_listen_address_configured_means_the_loopback_default()
    {
        var services = new ServiceCollection();
        ListenAddresses.Add(services, new ConfigurationBuilder().Build());
        using var provider = services.BuildServiceProvider();

        var binding = new AuthBinding(provider.GetRequiredService<IOptions<ListenAddresses>>());

        Assert.Equal([ProxyApplication.DefaultUrls], binding.Urls);
        Assert.True(binding.LoopbackOnly);
    }

    [Theory]
    [InlineData(null, null, 2)] // neither key: the fallback's default
    [InlineData("0", null, 0)] // the old key alone sets the retries (warned at start)
    [InlineData("0", "3", 3)] // the new key wins
    [InlineData(null, "1", 1)]
    public async Task The_old_MaxRetries_key_sets_the_fallbacks_retries_only_when_MaxRetriesPerModel_is_not_set(string? old, string? current, int expected)
    {
        var settings = new Dictionary<string, string?>();
        if (old is not null)
        {
            settings["ModelMix:MaxRetries"] = old;
        }

        if (current is not null)
        {
            settings["ModelMix:Fallback:MaxRetriesPerModel"] = current;
        }

        await using var proxy = await ProxyHarness.StartAsync(settings);

        Assert.Equal(expected, proxy.Get<ProxyFallback>().MaxRetriesPerModel);
    }

    [Fact]
    public async Task The_loop_guard_and_shadow_mode_are_off_without_their_sections()
    {
        await using var proxy = await ProxyHarness.StartAsync();

        Assert.False(proxy.Get<ProxyLoopGuard>().Enabled);
        Assert.Null(proxy.Services.GetService<ProxyShadow>());
    }

    [Fact]
    public async Task The_loop_guard_and_shadow_mode_are_on_with_their_sections()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?>
        {
            ["ModelMix:LoopGuard:MaxStepsPerSession"] = "5",
            ["ModelMix:Shadow:CandidateModel"] = "haiku",
        });

        Assert.True(proxy.Get<ProxyLoopGuard>().Enabled);
        Assert.NotNull(proxy.Services.GetService<ProxyShadow>());
    }
}
