using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Tests.Shared;

namespace ModelMix.IntegrationTests.Hosting;

/// <summary>
/// <c>ModelMix:Ledger:Retention</c> on both doors (docs/ledger.md, "Automatic retention"): <c>modelmix serve</c> and a
/// library host (<c>AddModelMix</c>) run the same hosted retention on their clock (a fake one here: the first run comes
/// <c>FirstRunDelay</c> after the start), export and prune the old months, count it in the metrics; a bad value stops
/// either start naming its key.
/// </summary>
public sealed class LedgerRetentionHostingTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 22, 17, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = new(2026, 6, 15, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Cut = new(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);

    private static Dictionary<string, string?> RetentionSettings(string folder) => new()
    {
        ["ModelMix:Ledger:Retention:Enabled"] = "true",
        ["ModelMix:Ledger:Retention:RawAge"] = "30.00:00:00",
        ["ModelMix:Ledger:Retention:ExportFolder"] = folder,
        ["ModelMix:Ledger:Retention:FirstRunDelay"] = "00:05:00",
    };

    /// <summary>Waits (on a signal, not a timer race) until both months' manifests say pruned.</summary>
    private static async Task WaitForPrunedAsync(string folder)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            var manifests = Directory.Exists(folder) ? Directory.GetFiles(folder, "*.manifest.json") : [];
            if (manifests.Length == 2 && manifests.All(path => LedgerRetentionManifest.Load(path).Pruned))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "retention did not prune both months within 2 minutes");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Serve_runs_retention_on_its_clock_and_reports_it_in_the_log_and_the_metrics()
    {
        var time = new FakeTimeProvider(Now);
        using var folder = new TempDirectory();
        var exports = Path.Combine(folder.Path, "exports");
        await using var proxy = await ProxyHarness.StartAsync(settings =>
        {
            foreach (var (key, value) in RetentionSettings(exports))
            {
                settings[key] = value;
            }
        }, time);
        var records = LedgerTraffic.Generate(1_200, seed: 61, T0, TimeSpan.FromMinutes(97)); // through about 22 May
        await proxy.Ledger.Store.WriteBatchAsync(records);

        time.Advance(TimeSpan.FromMinutes(4)); // not yet: the first run is 5 minutes after the start
        await Task.Delay(200);
        Assert.False(Directory.Exists(exports) && Directory.GetFiles(exports, "*.manifest.json").Length > 0);
        time.Advance(TimeSpan.FromMinutes(1));
        await WaitForPrunedAsync(exports);

        Assert.Equal(0, await proxy.Ledger.Store.CountAsync(new LedgerQuery { To = Cut }));
        Assert.Equal(records.Count(r => r.Timestamp >= Cut), await proxy.Ledger.Store.CountAsync(LedgerQuery.All));
        Assert.True(File.Exists(Path.Combine(exports, "ledger-2026-03.jsonl")));
        Assert.Contains(proxy.Logs.Lines, m => m.Contains("Ledger retention: pruned", StringComparison.Ordinal));
        using var http = proxy.Http();
        var metrics = await http.GetStringAsync("metrics");
        var pruned = records.Count(r => r.Timestamp < Cut);
        Assert.Contains($"modelmix_ledger_retention_rows_exported_total{{otel_scope_name=\"ModelMix\"}} {pruned}\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"modelmix_ledger_retention_rows_pruned_total{{otel_scope_name=\"ModelMix\"}} {pruned}\n", metrics, StringComparison.Ordinal);
        Assert.Contains("modelmix_ledger_retention_runs_total{otel_scope_name=\"ModelMix\",outcome=\"ok\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"modelmix_ledger_retention_last_success_seconds{{otel_scope_name=\"ModelMix\"}} {Now.AddMinutes(5).ToUnixTimeSeconds()}\n", metrics, StringComparison.Ordinal);

        // The dashboard over the last year says from when raw rows are kept (its runaway flags and recent calls need them).
        var rawFrom = records.Where(r => r.Timestamp >= Cut).Min(r => r.Timestamp);
        var page = await http.GetStringAsync("dashboard?days=366");
        Assert.Contains($"Raw ledger rows from {rawFrom.UtcDateTime:yyyy-MM-dd HH:mm} UTC", page, StringComparison.Ordinal);
        Assert.DoesNotContain("Raw ledger rows from", await http.GetStringAsync("dashboard?days=14"), StringComparison.Ordinal); // the last 14 days are all raw
    }

    [Fact]
    public async Task A_library_host_runs_the_same_retention_from_the_same_keys()
    {
        var time = new FakeTimeProvider(Now);
        using var folder = new TempDirectory();
        var exports = Path.Combine(folder.Path, "exports");
        var settings = RetentionSettings(exports);
        settings["ModelMix:Store"] = Path.Combine(folder.Path, "ledger.db");
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddModelMix(builder.Configuration);
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var ledger = host.Services.GetRequiredService<ILedger>();
            var records = LedgerTraffic.Generate(1_200, seed: 61, T0, TimeSpan.FromMinutes(97));
            await ledger.Store.WriteBatchAsync(records);

            time.Advance(TimeSpan.FromMinutes(5));
            await WaitForPrunedAsync(exports);

            Assert.Equal(0, await ledger.Store.CountAsync(new LedgerQuery { To = Cut }));
            Assert.True(File.Exists(Path.Combine(exports, "ledger-2026-04.jsonl")));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task A_raw_age_below_seven_days_or_no_export_folder_stops_either_start_naming_the_key()
    {
        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:Ledger:Retention:Enabled"] = "true";
            settings["ModelMix:Ledger:Retention:RawAge"] = "2.00:00:00";
        }));
        Assert.Contains("ModelMix:Ledger:Retention:RawAge must be at least 7 days", failure.Message, StringComparison.Ordinal);
        Assert.Contains("ModelMix:Ledger:Retention:ExportFolder", failure.Message, StringComparison.Ordinal);

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ModelMix:Ledger:Retention:Enabled"] = "true",
            ["ModelMix:Ledger:Retention:RawAge"] = "2.00:00:00",
        }).Build();
        using var library = new ServiceCollection().AddLogging().AddModelMix(configuration).BuildServiceProvider();
        var libraryFailure = Assert.Throws<OptionsValidationException>(() => library.GetRequiredService<IOptions<LedgerRetentionOptions>>().Value);
        Assert.Equal(failure.Failures.Order(StringComparer.Ordinal), libraryFailure.Failures.Order(StringComparer.Ordinal));
    }
}
