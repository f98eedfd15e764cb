using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace ModelMix.IntegrationTests.Support;

/// <summary>
/// Runs a Node.js client script from a folder under tests/ModelMix.IntegrationTests/NodeClients, installing its pinned
/// npm dependencies (package-lock.json) first when node_modules is missing, and parses the one JSON line it prints.
/// </summary>
internal static class NodeScript
{
    private static readonly ConcurrentDictionary<string, Lazy<Task>> Installs = new();

    public static string Folder(string name) => Path.Combine(RepositoryPaths.Root, "tests", "ModelMix.IntegrationTests", "NodeClients", name);

    public static async Task<JsonElement> RunAsync(string folder, string script, params string[] arguments)
    {
        await Installs.GetOrAdd(folder, path => new Lazy<Task>(() => InstallAsync(path))).Value;
        var (exit, output, error) = await RunProcessAsync("node", folder, TimeSpan.FromMinutes(2), [script, .. arguments]);
        if (exit != 0)
        {
            throw new InvalidOperationException($"node {script} exited with {exit}:\n{error}\n{output}");
        }

        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Last();
        using var document = JsonDocument.Parse(line);
        return document.RootElement.Clone();
    }

    private static async Task InstallAsync(string folder)
    {
        if (Directory.Exists(Path.Combine(folder, "node_modules")))
        {
            return;
        }

        var (exit, output, error) = await RunProcessAsync("npm", folder, TimeSpan.FromMinutes(5), ["ci", "--no-audit", "--no-fund"]);
        if (exit != 0)
        {
            throw new InvalidOperationException($"`npm ci` failed in {folder} (is npm installed and the registry reachable?):\n{error}\n{output}");
        }
    }

    private static async Task<(int Exit, string Output, string Error)> RunProcessAsync(string file, string folder, TimeSpan timeout, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', start.ArgumentList)} did not finish within {timeout}.");
        }

        return (process.ExitCode, await output, await error);
    }
}
