using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ModelMix.Caching;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Pipeline;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Hosting;

/// <summary>
/// A <c>ModelMix:*</c> key means the same on both doors (issue 21): <c>ModelMix:Caching</c> is bound to one options class,
/// <see cref="CachingOptions"/>, so a bad value stops the start of an <c>AddModelMix</c> host and of <c>modelmix serve</c>
/// alike, with the same message naming the key; <c>ModelMix:Cascade</c> is bound by the library's binder on both doors and
/// checked at start by an <see cref="IValidateOptions{TOptions}"/> on each (the proxy adds its alias and verifier-only rules).
/// </summary>
public sealed class OneKeyBothDoorsTests
{
    [Theory]
    [InlineData("Ttl", "2h", "ModelMix:Caching:Ttl must be \"5m\" or \"1h\", got '2h'.")]
    [InlineData("MaxBreakpoints", "5", "ModelMix:Caching:MaxBreakpoints must be between 0 and 4, got 5.")]
    [InlineData("AssumedOutputTokens", "-1", "ModelMix:Caching:AssumedOutputTokens must not be negative, got -1.")]
    [InlineData("WarmStoreLocalTtl", "00:02:00", "ModelMix:Caching:WarmStoreLocalTtl must be between 00:00:00 and 00:01:00, got 00:02:00.")]
    public async Task A_bad_caching_value_stops_both_doors_with_the_same_message(string key, string value, string expected)
    {
        using var dir = new TempDirectory();
        var settings = new Dictionary<string, string?>
        {
            ["ModelMix:Store"] = Path.Combine(dir.Path, "ledger.db"),
            ["ModelMix:Caching:" + key] = value,
        };

        var library = await Assert.ThrowsAsync<OptionsValidationException>(() => StartLibraryAsync(settings));
        var proxy = await Assert.ThrowsAsync<OptionsValidationException>(() => StartProxyAsync(settings));

        Assert.Contains(expected, library.Failures);
        Assert.Contains(expected, proxy.Failures);
    }

    [Theory]
    [InlineData("Threshold", "1.5")]
    [InlineData("MaxEscalations", "-1")]
    [InlineData("Tiers:0", "gpt-9")]
    public async Task A_bad_cascade_value_stops_both_doors_naming_the_key(string key, string value)
    {
        using var dir = new TempDirectory();
        var settings = new Dictionary<string, string?>
        {
            ["ModelMix:Store"] = Path.Combine(dir.Path, "ledger.db"),
            ["ModelMix:Cascade:" + key] = value,
        };

        var library = await Assert.ThrowsAsync<OptionsValidationException>(() => StartLibraryAsync(settings));
        var proxy = await Assert.ThrowsAsync<OptionsValidationException>(() => StartProxyAsync(settings));

        Assert.Contains("ModelMix:Cascade:" + key, library.Message, StringComparison.Ordinal);
        Assert.Contains("ModelMix:Cascade:" + key, proxy.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("auto", "is already another routing alias")]
    [InlineData("opus", "is also a model or tier in the price book")]
    [InlineData("ConfidenceSource", "must be Verifier at the proxy")]
    public async Task The_proxy_refuses_its_own_cascade_settings_at_start(string aliasOrKey, string expected)
    {
        using var dir = new TempDirectory();
        var settings = new Dictionary<string, string?> { ["ModelMix:Store"] = Path.Combine(dir.Path, "ledger.db") };
        if (aliasOrKey == "ConfidenceSource")
        {
            settings["ModelMix:Cascade:ConfidenceSource"] = "StructuredOutput";
        }
        else
        {
            settings["ModelMix:Cascade:Alias"] = aliasOrKey;
        }

        var proxy = await Assert.ThrowsAsync<OptionsValidationException>(() => StartProxyAsync(settings));

        Assert.Contains(expected, proxy.Message, StringComparison.Ordinal);
        Assert.Contains("ModelMix:Cascade:", proxy.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_good_caching_section_reaches_the_library_stage_as_the_proxy_reads_it()
    {
        using var dir = new TempDirectory();
        var settings = new Dictionary<string, string?>
        {
            ["ModelMix:Store"] = Path.Combine(dir.Path, "ledger.db"),
            ["ModelMix:Caching:Ttl"] = "1h",
            ["ModelMix:Caching:MaxBreakpoints"] = "2",
            ["ModelMix:Caching:CacheTools"] = "false",
        };
        using var host = LibraryHost(settings);
        await host.StartAsync();

        var stage = host.Services.GetRequiredService<IOptions<PromptCachingChatClientOptions>>().Value.Caching;
        var section = host.Services.GetRequiredService<IOptions<CachingOptions>>().Value;
        await host.StopAsync();

        Assert.Equal(PromptCacheTtl.OneHour, stage.Ttl);
        Assert.Equal(2, stage.MaxBreakpoints);
        Assert.False(stage.CacheTools);
        Assert.True(stage.CacheSystem);
        Assert.Equal(PromptCacheTtl.OneHour, section.ParsedTtl);
    }

    private static IHost LibraryHost(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddModelMix(builder.Configuration);
        return builder.Build();
    }

    private static async Task StartLibraryAsync(Dictionary<string, string?> settings)
    {
        using var host = LibraryHost(settings);
        await host.StartAsync();
        await host.StopAsync();
    }

    private static async Task StartProxyAsync(Dictionary<string, string?> settings)
    {
        await using var app = ProxyApplication.Create("http://127.0.0.1:0", null, settings);
        await app.StartAsync();
        await app.StopAsync();
    }
}
