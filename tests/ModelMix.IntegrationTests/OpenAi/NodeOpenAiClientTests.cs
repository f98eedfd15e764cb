using System.Diagnostics;
using System.Text.Json.Nodes;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.OpenAi;

/// <summary>
/// The official <c>openai</c> npm client (version pinned in <c>node/package.json</c>) drives <c>/v1/chat/completions</c>
/// (a plain call, a stream with usage, and a bad request) and <c>/v1/responses</c> (<c>client.responses.create</c>: text,
/// a stream, a two-step tool loop, structured output, <c>auto</c> and a stateless refusal), through small Node scripts
/// that print what they saw.
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

    [Fact]
    public async Task Openai_npm_client_uses_the_responses_api_with_streams_tools_and_structured_output()
    {
        var folder = NodeFolder();
        await EnsureInstalledAsync(folder);
        await using var harness = await ProxyHarness.StartAsync();
        Clients.ClientReplies.Install(harness.Fake);

        var (exitCode, stdout, stderr) = await RunAsync("node", ["responses-client.mjs", new Uri(harness.ProxyUrl, "v1").ToString()], folder, TimeSpan.FromMinutes(2));

        Assert.True(exitCode == 0, $"node exited {exitCode}\nstdout: {stdout}\nstderr: {stderr}");
        var result = JsonNode.Parse(stdout.Trim().Split('\n')[^1])!;
        var text = result["text"]!;
        Assert.Equal("response", text["object"]!.GetValue<string>());
        Assert.Equal("completed", text["status"]!.GetValue<string>());
        Assert.StartsWith("resp_", text["id"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith("A model router inspects each request", text["outputText"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(19, text["usage"]!["input_tokens"]!.GetValue<long>());
        Assert.Equal(33, text["usage"]!["output_tokens"]!.GetValue<long>());
        Assert.StartsWith("mmx_", text["requestID"]!.GetValue<string>(), StringComparison.Ordinal);

        var stream = result["stream"]!;
        Assert.Equal("Pennies per thousand\u2014\nsmall models carry the load,\nbig ones wait their turn.", stream["text"]!.GetValue<string>());
        Assert.Equal(stream["text"]!.GetValue<string>(), stream["outputText"]!.GetValue<string>());
        Assert.Equal("completed", stream["status"]!.GetValue<string>());
        Assert.Equal(22, stream["usage"]!["output_tokens"]!.GetValue<long>());
        var types = stream["types"]!.AsArray().Select(type => type!.GetValue<string>()).ToList();
        Assert.Equal("response.created", types[0]);
        Assert.Equal("response.completed", types[^1]);
        Assert.Contains("response.output_text.delta", types);

        var tools = result["tools"]!;
        Assert.Equal("get_weather", tools["call"]!["name"]!.GetValue<string>());
        Assert.Equal("Paris", tools["call"]!["arguments"]!["city"]!.GetValue<string>());
        Assert.StartsWith("A model router", tools["answer"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("Paris", result["structured"]!["city"]!.GetValue<string>());
        Assert.Equal(18, result["structured"]!["temperature_c"]!.GetValue<int>());
        Assert.Equal("completed", result["auto"]!["status"]!.GetValue<string>());

        var error = result["error"]!;
        Assert.Equal("BadRequestError", error["name"]!.GetValue<string>());
        Assert.Equal("previous_response_id", error["param"]!.GetValue<string>());
        Assert.Contains("stateless", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith("mmx_", error["requestID"]!.GetValue<string>(), StringComparison.Ordinal);

        // The tool loop's second request carries the call and its result as Claude wants them.
        var loop = harness.Fake.MessageRequests.Select(request => request.Json!).Last(json => json["model"]!.GetValue<string>() == "claude-sonnet-4-5");
        var turns = loop["messages"]!.AsArray();
        Assert.Equal(["user", "assistant", "user"], turns.Select(turn => turn!["role"]!.GetValue<string>()));
        Assert.Equal("tool_use", turns[1]!["content"]!.AsArray()[^1]!["type"]!.GetValue<string>());
        Assert.Equal("tool_result", turns[2]!["content"]![0]!["type"]!.GetValue<string>());
        Assert.Equal(turns[1]!["content"]!.AsArray()[^1]!["id"]!.GetValue<string>(), turns[2]!["content"]![0]!["tool_use_id"]!.GetValue<string>());

        // One priced ledger row per upstream call, found by the cell's x-modelmix-task; the refused call has none.
        var records = await harness.ReadLedgerAsync();
        Assert.Equal(6, records.Count);
        Assert.All(records, record => Assert.Equal(LedgerStatus.Ok, record.Status));
        Assert.All(records, record => Assert.True(record.Cost!.Value.Total > 0));
        Assert.Equal(["responses/auto", "responses/stream", "responses/structured", "responses/text", "responses/tools", "responses/tools"], records.Select(record => record.TaskLabel!).Order());
        Assert.True(records.Single(record => record.TaskLabel == "responses/stream").Streaming);
        Assert.Equal("auto", records.Single(record => record.TaskLabel == "responses/auto").RequestedModel);
        // Haiku 4.5 at $1 / $5 per MTok: 19 * 1 / 1e6 + 33 * 5 / 1e6 = 0.000184.
        Assert.Equal(0.000184m, records.Single(record => record.TaskLabel == "responses/text").Cost!.Value.Total);
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
