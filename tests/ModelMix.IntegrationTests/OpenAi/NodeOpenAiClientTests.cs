using System.Diagnostics;
using System.Text.Json.Nodes;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.OpenAi;

/// <summary>
/// The official <c>openai</c> npm client (version pinned in <c>node/package.json</c>) drives <c>/v1/chat/completions</c>:
/// a plain call, a stream with usage, and a bad request, through a small Node script that prints what it saw.
/// </summary>
public sealed class NodeOpenAiClientTests
{
    private static readonly SemaphoreSlim InstallGate = new(1, 1);
    private static bool s_installed;

    [Fact]
    public async Task Openai_npm_client_gets_completions_streams_and_errors()
    {
        var folder = NodeFolder();
        await EnsureInstalledAsync(folder);
        await using var harness = await ProxyHarness.StartAsync();

        var (exitCode, stdout, stderr) = await RunAsync("node", ["openai-client.mjs", new Uri(harness.ProxyUrl, "v1").ToString()], folder, TimeSpan.FromMinutes(2));

        Assert.True(exitCode == 0, $"node exited {exitCode}\nstdout: {stdout}\nstderr: {stderr}");
        var result = JsonNode.Parse(stdout.Trim().Split('\n')[^1])!;
        var completion = result["completion"]!;
        Assert.Equal("chat.completion", completion["object"]!.GetValue<string>());
        Assert.Equal("claude-haiku-4-5-20251001", completion["model"]!.GetValue<string>());
        Assert.StartsWith("A model router inspects each request", completion["content"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("stop", completion["finishReason"]!.GetValue<string>());
        Assert.Equal(19, completion["usage"]!["prompt_tokens"]!.GetValue<long>());
        Assert.Equal(33, completion["usage"]!["completion_tokens"]!.GetValue<long>());

        var stream = result["stream"]!;
        Assert.Equal("assistant", stream["role"]!.GetValue<string>());
        Assert.Equal("Pennies per thousand\u2014\nsmall models carry the load,\nbig ones wait their turn.", stream["text"]!.GetValue<string>());
        Assert.Equal("stop", stream["finishReason"]!.GetValue<string>());
        Assert.Equal(16, stream["usage"]!["prompt_tokens"]!.GetValue<long>());
        Assert.Equal(22, stream["usage"]!["completion_tokens"]!.GetValue<long>());
        Assert.True(stream["chunks"]!.GetValue<int>() >= 9);

        var error = result["error"]!;
        Assert.Equal("BadRequestError", error["name"]!.GetValue<string>());
        Assert.Equal(400, error["status"]!.GetValue<int>());
        Assert.Equal("invalid_request_error", error["type"]!.GetValue<string>());
        Assert.Equal("messages", error["param"]!.GetValue<string>());

        var records = await harness.ReadLedgerAsync();
        Assert.Equal(2, records.Count);
        Assert.All(records, record => Assert.Equal(LedgerStatus.Ok, record.Status));
        Assert.Equal([false, true], records.Select(record => record.Streaming).Order());
        Assert.Equal(0.000184m + 0.000126m, records.Sum(record => record.Cost!.Value.Total));
    }

    /// <summary>The script's folder in the source tree (node_modules is installed there, and ignored by git).</summary>
    private static string NodeFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "ModelMix.IntegrationTests", "OpenAi", "node");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"tests/ModelMix.IntegrationTests/OpenAi/node not found above {AppContext.BaseDirectory}.");
    }

    /// <summary>Installs the pinned npm packages once per run when node_modules lacks them (CI starts from a clean clone).</summary>
    private static async Task EnsureInstalledAsync(string folder)
    {
        await InstallGate.WaitAsync();
        try
        {
            if (s_installed || File.Exists(Path.Combine(folder, "node_modules", "openai", "package.json")))
            {
                s_installed = true;
                return;
            }

            (int ExitCode, string Stdout, string Stderr) install;
            try
            {
                install = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], folder, TimeSpan.FromMinutes(5));
            }
            catch (System.ComponentModel.Win32Exception exception)
            {
                throw new InvalidOperationException($"This test needs Node.js and npm on PATH to install the openai npm client in {folder} (`npm ci`): {exception.Message}", exception);
            }

            if (install.ExitCode != 0)
            {
                throw new InvalidOperationException($"`npm ci` in {folder} failed with exit code {install.ExitCode}; the openai npm client could not be installed.\n{install.Stdout}\n{install.Stderr}");
            }

            s_installed = true;
        }
        finally
        {
            InstallGate.Release();
        }
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string fileName, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{fileName} {string.Join(' ', arguments)}` did not finish within {timeout}.");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
