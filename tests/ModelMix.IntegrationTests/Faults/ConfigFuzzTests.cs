using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using ModelMix.IntegrationTests.Cli;
using ModelMix.IntegrationTests.Fuzz;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Faults;

/// <summary>
/// Bad configuration files (wrong types, out-of-range values, unknown names and enum values, malformed JSON) make the
/// proxy fail at start, before it serves anything, with an exception <c>modelmix serve</c> turns into a one-line
/// message that names the offending key (or, for malformed JSON, the file); and the real process exits 1 saying so.
/// </summary>
public sealed class ConfigFuzzTests
{
    /// <summary>Keys with values each must refuse; the key named in the message is the last segment(s) given here.</summary>
    private static readonly (string Path, JsonNode?[] Bad)[] BadValues =
    [
        ("Upstream", ["not a url", "ftp://example.com", 5, "", true]),
        ("MaxRequestBodyBytes", [-1, 0, 10, "big", 1.5, "1e30"]),
        ("UpstreamTimeout", ["-00:00:01", "00:00:00", "soon", true]),
        ("MaxRetries", [-1, 11, "x", 2.5, "99999999999"]),
        ("RetryBaseDelay", ["-00:00:01", "x"]),
        ("MaxRetryDelay", ["-00:00:01", "later"]),
        ("LedgerFlushInterval", ["00:00:00", "00:01:00", "x"]),
        ("SessionBudgetUsd", ["x", -1, true]),
        ("ReservationTtl", ["x", "-00:00:01", "00:00:00"]),
        ("DefaultAnthropicVersion", [""]),
        ("Routing:Default", ["gpt-9", 5]),
        ("Fallback:Chain", [new JsonArray("gpt-9"), new JsonArray("haiku", "haiku")]),
        ("Fallback:LongContextModel", ["nope"]),
        ("LoopGuard:MaxStepsPerSession", [-1, 0, "x"]),
        ("LoopGuard:MaxSpendPerMinuteUsd", [-1, "x"]),
        ("LoopGuard:SessionIdleTimeout", ["x", "-00:00:01"]),
        ("TierDrift:MaxShare", [new JsonObject { ["opus"] = 2 }, new JsonObject { ["opus"] = "x" }, new JsonObject { ["opus"] = -0.1 }, new JsonObject { ["gpt4"] = 0.2 }]),
        ("Cascade:Threshold", [1.5, -1, "x"]),
        ("Cascade:MaxEscalations", [-1, "x"]),
        ("Cascade:Tiers", [new JsonArray("gpt-9")]), // an empty array binds as no value at all: the defaults apply
        ("Cascade:ConfidenceSource", ["Magic", 42]),
        ("Cascade:VerifierModel", ["gpt-9"]),
    ];

    public static TheoryData<string> Keys() => new(BadValues.Select(entry => entry.Path));

    [Theory]
    [MemberData(nameof(Keys))]
    public async Task A_bad_value_fails_the_start_naming_the_key(string path)
    {
        using var dir = new TempDirectory();
        var bad = BadValues.Single(entry => entry.Path == path).Bad;
        var random = new Random(HostileInput.Seed is { } seed ? seed.GetHashCode(StringComparison.Ordinal) : Environment.TickCount);
        foreach (var value in bad)
        {
            // The bad value alone, and again among a few good settings in a random order.
            foreach (var withOthers in new[] { false, true })
            {
                var config = Config(path, value?.DeepClone(), withOthers ? random : null);
                var failure = await StartFailureAsync(dir, config);
                var leaf = path.Split(':')[^1];
                Assert.True(failure is not null, $"ModelMix:{path} = {value?.ToJsonString() ?? "null"} was accepted\n{config}");
                Assert.True(failure.Message.Contains(leaf, StringComparison.Ordinal), $"ModelMix:{path} = {value?.ToJsonString()}: the message does not name '{leaf}': {failure.Message}");
                Assert.True(IsReportedByServe(failure), $"ModelMix:{path}: {failure.GetType().Name} would escape `modelmix serve` as a crash: {failure}");
            }
        }

        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task Malformed_json_fails_the_start_naming_the_file()
    {
        using var dir = new TempDirectory();
        var valid = Config("MaxRetries", 3, new Random(1));
        var cuts = Enumerable.Range(1, 20).Select(i => valid.Length * i / 21).Append(1).Distinct();
        var broken = cuts.Select(cut => valid[..cut])
            .Concat(["", "[]", "\"text\"", "{\"ModelMix\": {\"MaxRetries\": 01}}", "{'ModelMix': {}}", "{\"ModelMix\": {\"MaxRetries\": 1}} trailing", "\uFEFF{\"ModelMix\":", "{\"ModelMix\": NaN}"]);
        var cases = 0;
        foreach (var text in broken)
        {
            var failure = await StartFailureAsync(dir, text);
            if (text is "[]" or "\"text\"" && failure is null)
            {
                continue; // a JSON document without the section: nothing to refuse
            }

            cases++;
            Assert.True(failure is not null, $"accepted: {text}");
            Assert.True(failure.Message.Contains("config.json", StringComparison.Ordinal), $"the message does not name the file: {failure.Message}");
            Assert.True(IsReportedByServe(failure), $"{failure.GetType().Name} would escape `modelmix serve` as a crash: {failure}");
        }

        Assert.True(cases >= 25, $"{cases} cases");
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task The_real_serve_process_exits_1_with_a_one_line_message_naming_the_key()
    {
        using var dir = new TempDirectory();
        foreach (var (text, named) in new[]
        {
            (Config("MaxRetries", "lots", null), "MaxRetries"),
            (Config("Cascade:Threshold", 7, null), "Threshold"),
            ("{\"ModelMix\": {\"MaxRetries\": ", "config.json"),
        })
        {
            var file = Path.Combine(dir.Path, "config.json");
            await File.WriteAllTextAsync(file, text);
            var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = dir.Path };
            foreach (var argument in new[] { ServeProcess.CliAssemblyPath(), "serve", "--urls", "http://127.0.0.1:0", "--db", Path.Combine(dir.Path, "ledger.db"), "--config", file })
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            await process.WaitForExitAsync(timeout.Token);
            var output = await stderr + await stdout;
            Assert.Equal(1, process.ExitCode);
            Assert.Contains(named, output, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        }
    }

    /// <summary>The exceptions <c>modelmix serve</c> reports as a message and exit code 1 (ServeCommand).</summary>
    private static bool IsReportedByServe(Exception exception) =>
        exception is Microsoft.Extensions.Options.OptionsValidationException or FileNotFoundException or ModelMix.Pricing.PricingException
            or ModelMix.Routing.RoutingConfigurationException or InvalidOperationException or IOException or InvalidDataException;

    /// <summary>A config file with <paramref name="path"/> under <c>ModelMix</c> set to <paramref name="value"/>, optionally among valid settings.</summary>
    private static string Config(string path, JsonNode? value, Random? others)
    {
        var root = new JsonObject();
        var section = new JsonObject();
        root["ModelMix"] = section;
        if (others is not null)
        {
            var good = new (string Path, JsonNode Value)[]
            {
                ("MaxRetries", 1), ("UpstreamTimeout", "00:02:00"), ("RetryBaseDelay", "00:00:00.2"), ("Routing:Default", "haiku"),
                ("LoopGuard:MaxStepsPerSession", 50), ("Cascade:Threshold", 0.6), ("Fallback:Chain", new JsonArray("sonnet", "haiku")),
                ("SessionBudgetUsd", 5), ("TierDrift:MaxShare", new JsonObject { ["opus"] = 0.2 }),
            };
            foreach (var (goodPath, goodValue) in good.OrderBy(_ => others.Next()).Take(others.Next(1, 5)))
            {
                if (goodPath != path)
                {
                    Set(section, goodPath, goodValue.DeepClone());
                }
            }
        }

        Set(section, path, value);
        return root.ToJsonString();
    }

    private static void Set(JsonObject section, string path, JsonNode? value)
    {
        var parts = path.Split(':');
        var node = section;
        foreach (var part in parts[..^1])
        {
            node = node[part] as JsonObject ?? (JsonObject)(node[part] = new JsonObject());
        }

        node[parts[^1]] = value;
    }

    /// <summary>What stopped the proxy from starting on this config file, or null when it started (then it is stopped).</summary>
    private static async Task<Exception?> StartFailureAsync(TempDirectory dir, string config)
    {
        var file = Path.Combine(dir.Path, "config.json");
        await File.WriteAllTextAsync(file, config);
        var overrides = new Dictionary<string, string?> { ["ModelMix:Db"] = Path.Combine(dir.Path, "ledger.db") };
        try
        {
            await using var app = ProxyApplication.Create("http://127.0.0.1:0", file, overrides, logging => logging.ClearProviders());
            await app.StartAsync();
            await app.StopAsync();
            return null;
        }
        catch (Exception exception)
        {
            return exception;
        }
    }
}
