using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>A bad configuration fails the start, naming the key, never the first request.</summary>
public sealed class ProxyConfigurationTests
{
    [Theory]
    [InlineData("UpstreamTimeout", "-00:00:01", "ModelMix:UpstreamTimeout")]
    [InlineData("Upstream", "ftp://example.test/", "ModelMix:Upstream")]
    [InlineData("LedgerFlushInterval", "00:05:00", "ModelMix:LedgerFlushInterval")]
    [InlineData("MaxRetries", "99", "ModelMix:MaxRetries")]
    [InlineData("MaxRequestBodyBytes", "10", "ModelMix:MaxRequestBodyBytes")]
    [InlineData("Prices", "/no/such/prices.json", "ModelMix:Prices")]
    public async Task Bad_setting_in_a_config_file_fails_the_start_naming_the_key(string key, string value, string expected)
    {
        using var dir = new TempDirectory();
        var config = Path.Combine(dir.Path, "modelmix.json");
        await File.WriteAllTextAsync(config, $$"""{ "ModelMix": { "Db": "{{Path.Combine(dir.Path, "l.db").Replace("\\", "/", StringComparison.Ordinal)}}", "{{key}}": "{{value}}" } }""");

        await using var app = ProxyApplication.Create("http://127.0.0.1:0", config);
        var exception = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains(expected, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_config_file_is_an_error_naming_it()
    {
        var exception = Assert.Throws<FileNotFoundException>(() => ProxyApplication.Create("http://127.0.0.1:0", "/no/such/modelmix.json"));

        Assert.Contains("/no/such/modelmix.json", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_file_settings_apply_and_flags_override_them()
    {
        await using var fake = await FakeAnthropic.FakeAnthropicServer.StartAsync();
        using var dir = new TempDirectory();
        var fileDb = Path.Combine(dir.Path, "from-file.db");
        var flagDb = Path.Combine(dir.Path, "from-flag.db");
        var config = Path.Combine(dir.Path, "modelmix.json");
        await File.WriteAllTextAsync(config, $$"""{ "ModelMix": { "Upstream": "{{fake.BaseUrl}}", "UpstreamApiKey": "k", "Db": "{{fileDb}}" } }""");

        await using (var app = ProxyApplication.Create("http://127.0.0.1:0", config))
        {
            await app.StartAsync();
            await app.StopAsync();
        }

        await using (var app = ProxyApplication.Create("http://127.0.0.1:0", config, new Dictionary<string, string?> { ["ModelMix:Db"] = flagDb }))
        {
            await app.StartAsync();
            await app.StopAsync();
        }

        Assert.True(File.Exists(fileDb));
        Assert.True(File.Exists(flagDb));
    }

    [Fact]
    public async Task No_configuration_file_is_watched_for_changes()
    {
        // The host's default reloads appsettings.json through a recursive watcher on the working directory, where the
        // default ledger file lives: every commit would wake it. Configuration is validated once, at start, instead.
        await using var app = ProxyApplication.Create("http://127.0.0.1:0");
        var sources = ((IConfigurationRoot)app.Configuration).Providers.OfType<FileConfigurationProvider>().Select(provider => provider.Source).ToList();

        Assert.Contains(sources, source => source.Path == "appsettings.json");
        Assert.All(sources, source => Assert.False(source.ReloadOnChange, source.Path));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("true", true)]
    [InlineData("false", false)]
    public async Task InlineScheduling_reaches_the_socket_transport(string? value, bool expected)
    {
        using var dir = new TempDirectory();
        var settings = new Dictionary<string, string?> { ["ModelMix:Db"] = Path.Combine(dir.Path, "l.db"), ["ModelMix:InlineScheduling"] = value };
        await using var app = ProxyApplication.Create("http://127.0.0.1:0", null, settings);

        // The proxy's own listener decides inline scheduling per connection: every connection runs inline exactly when
        // InlineScheduling is on (Kestrel's UnsafePreferInlineScheduling option is not what decides it any more).
        var transport = Assert.IsType<AdaptiveSocketTransport>(app.Services.GetRequiredService<Microsoft.AspNetCore.Connections.IConnectionListenerFactory>());

        Assert.Equal(expected, transport.InlineLimit == int.MaxValue);
    }

    [Theory]
    [InlineData(null, null, 4)]
    [InlineData(null, "0", 0)]
    [InlineData(null, "16", 16)]
    [InlineData("true", "2", int.MaxValue)]
    public async Task InlineConnections_sets_how_many_connections_the_transport_runs_inline(string? inlineScheduling, string? inlineConnections, int expected)
    {
        using var dir = new TempDirectory();
        var settings = new Dictionary<string, string?> { ["ModelMix:Db"] = Path.Combine(dir.Path, "l.db") };
        if (inlineScheduling is not null)
        {
            settings["ModelMix:InlineScheduling"] = inlineScheduling; // null: the key is not set at all (a key set to null binds as 0)
        }

        if (inlineConnections is not null)
        {
            settings["ModelMix:InlineConnections"] = inlineConnections;
        }

        await using var app = ProxyApplication.Create("http://127.0.0.1:0", null, settings);

        var transport = Assert.IsType<AdaptiveSocketTransport>(app.Services.GetRequiredService<Microsoft.AspNetCore.Connections.IConnectionListenerFactory>());

        Assert.Equal(expected, transport.InlineLimit);
    }

    [Theory]
    [InlineData("several", typeof(InvalidOperationException))]
    [InlineData("-1", typeof(OptionsValidationException))]
    public async Task InlineConnections_that_is_not_a_count_fails_the_start_naming_the_key(string value, Type expected)
    {
        using var dir = new TempDirectory();
        var settings = new Dictionary<string, string?> { ["ModelMix:Db"] = Path.Combine(dir.Path, "l.db"), ["ModelMix:InlineConnections"] = value };
        var exception = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var app = ProxyApplication.Create("http://127.0.0.1:0", null, settings);
            await app.StartAsync();
        });

        Assert.IsType(expected, exception);
        Assert.Contains("ModelMix:InlineConnections", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InlineScheduling_that_is_not_a_boolean_fails_the_start_naming_the_key()
    {
        using var dir = new TempDirectory();
        var settings = new Dictionary<string, string?> { ["ModelMix:Db"] = Path.Combine(dir.Path, "l.db"), ["ModelMix:InlineScheduling"] = "sometimes" };
        var exception = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await using var app = ProxyApplication.Create("http://127.0.0.1:0", null, settings);
            await app.StartAsync();
        });

        Assert.Contains("'ModelMix:InlineScheduling'", exception.Message, StringComparison.Ordinal);
    }
}
