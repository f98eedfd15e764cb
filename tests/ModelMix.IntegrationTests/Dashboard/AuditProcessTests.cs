using System.Diagnostics;
using System.Text.Json;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;

namespace ModelMix.IntegrationTests.Dashboard;

/// <summary>The real <c>modelmix audit</c> as a child process, reading the ledger file a proxy wrote.</summary>
public sealed class AuditProcessTests
{
    [Fact]
    public async Task The_audit_process_prints_the_ledger_totals_as_json_and_writes_a_chart()
    {
        using var dir = new TempDirectory();
        var db = Path.Combine(dir.Path, "ledger.db");
        await DashboardSeed.WriteAsync(db);
        var chart = Path.Combine(dir.Path, "chart.svg");
        var dll = Path.Combine(RepositoryPaths.Root, "src", "ModelMix.Cli", "bin", RepositoryPaths.Configuration, RepositoryPaths.Framework, "ModelMix.Cli.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { dll, "audit", "--store", db, "--format", "json", "--chart", chart })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);

        Assert.True(process.ExitCode == 0, await stderr);
        using var json = JsonDocument.Parse(await stdout);
        Assert.Equal(0.0275m, json.RootElement.GetProperty("total_usd").GetDecimal());
        Assert.Equal(3, json.RootElement.GetProperty("calls").GetInt64());
        // Routing started with the first record a policy routed (yesterday 09:00); before it, Sonnet was the model.
        Assert.Equal("claude-sonnet-4-6", json.RootElement.GetProperty("counterfactuals")[1].GetProperty("model").GetString());
        Assert.Contains("<rect", await File.ReadAllTextAsync(chart), StringComparison.Ordinal);
    }
}
