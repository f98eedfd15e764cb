using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ModelMix.IntegrationTests.Support;

namespace ModelMix.IntegrationTests.Cli;

/// <summary>
/// The real <c>modelmix serve</c> as a child process (the built ModelMix.Cli.dll run by <c>dotnet</c>), for what only a
/// process can show: start-up messages, SIGTERM and <c>kill -9</c>.
/// </summary>
internal sealed class ServeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ServeProcess(Process process, Uri url)
    {
        _process = process;
        Url = url;
        process.OutputDataReceived += (_, line) => { if (line.Data is not null) { _output.Enqueue(line.Data); } };
        process.ErrorDataReceived += (_, line) => { if (line.Data is not null) { _output.Enqueue(line.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri Url { get; }

    public IReadOnlyList<string> Output => [.. _output];

    public bool HasExited => _process.HasExited;

    /// <summary>The process id (to freeze it with <c>SIGSTOP</c> and thaw it with <c>SIGCONT</c>).</summary>
    public int ProcessId => _process.Id;

    public int ExitCode => _process.ExitCode;

    public static async Task<ServeProcess> StartAsync(Uri upstream, string db, string? apiKey, IReadOnlyDictionary<string, string>? environment = null)
    {
        var port = FreePort();
        var dll = CliAssemblyPath();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(db)!,
        };
        foreach (var argument in new[] { dll, "serve", "--urls", $"http://127.0.0.1:{port}", "--upstream", upstream.ToString(), "--db", db })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("ANTHROPIC_API_KEY");
        start.Environment.Remove("ModelMix__UpstreamApiKey");
        if (apiKey is not null)
        {
            start.Environment["ANTHROPIC_API_KEY"] = apiKey;
        }

        // Each hosted service's stop in the log (Debug, SupervisedHostedService): a stop that hangs shows where.
        start.Environment["Logging__LogLevel__ModelMix.Server.SupervisedHostedService"] = "Debug";
        start.Environment["Logging__LogLevel__ModelMix.Cli"] = "Debug";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        var serve = new ServeProcess(process, new Uri($"http://127.0.0.1:{port}/"));
        await serve.WaitUntilHealthyAsync();
        return serve;
    }

    /// <summary>Polls /healthz until it answers (the process is up) or 60 s pass.</summary>
    private async Task WaitUntilHealthyAsync()
    {
        using var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException("modelmix serve exited during start-up:\n" + string.Join("\n", _output));
            }

            try
            {
                using var response = await http.GetAsync("healthz");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("modelmix serve did not become healthy:\n" + string.Join("\n", _output));
    }

    /// <summary>Sends SIGTERM (a graceful stop) and waits for the exit.</summary>
    public async Task TerminateAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill!.WaitForExitAsync();
        }

        // 60 s: twice the host's 30 s shutdown timeout. A replica restarted on PostgreSQL and stopped at once under the
        // full suite's load was seen (rarely, not reproduced alone) to need more than 30 s; the output says why if it
        // ever needs more than 60.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            if (_process.HasExited)
            {
                // WaitForExitAsync also waits for the end of the redirected output: a process that inherited the pipes
                // (or a test host too busy to read them) holds it, not serve.
                throw new TimeoutException(
                    $"modelmix serve exited (code {_process.ExitCode}) but its output did not reach its end within 60 s of SIGTERM; the output read:\n" + string.Join("\n", _output));
            }

            // What each thread of the stuck process is doing, taken before the test's dispose kills it (the hang is rare
            // and was never reproduced alone: the next one must explain itself).
            var stacks = await ManagedStacksAsync(_process.Id);
            throw new TimeoutException(
                "modelmix serve did not exit within 60 s of SIGTERM; its output:\n" + string.Join("\n", _output) + "\nits managed stacks (dotnet-stack):\n" + stacks);
        }
    }

    /// <summary>
    /// The managed stack of every thread of process <paramref name="processId"/>, from <c>dotnet-stack report</c> (the
    /// repository's local tool, .config/dotnet-tools.json, restored by test.sh), or why they could not be read. At most
    /// 60 s. An async wait has no thread: stacks that show only idle pool threads mean the stop awaits a task that never
    /// completes (the process's log then says which step it is in).
    /// </summary>
    internal static async Task<string> ManagedStacksAsync(int processId)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryPaths.Root, // where the tool manifest is
        };
        foreach (var argument in new[] { "tool", "run", "dotnet-stack", "report", "--process-id", processId.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using var stack = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
            var output = stack.StandardOutput.ReadToEndAsync();
            var error = stack.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await stack.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                stack.Kill(entireProcessTree: true);
                return "(dotnet-stack did not answer within 60 s)";
            }

            var text = await output + await error;
            return stack.ExitCode == 0
                ? text
                : $"(dotnet-stack exited with code {stack.ExitCode}; `dotnet tool restore` in the repository installs it)\n{text}";
        }
        catch (Exception exception) when (exception is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            return $"(could not run dotnet-stack: {exception.Message})";
        }
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }

    /// <summary>
    /// The CLI as built in its own output folder (bin/CONFIG/net10.0 of src/ModelMix.Cli, same configuration as the
    /// tests): its deps.json describes that folder, not the test's, where shared-framework conflict resolution drops
    /// some of its package assemblies.
    /// </summary>
    internal static string CliAssemblyPath()
    {
        var dll = Path.Combine(RepositoryPaths.Root, "src", "ModelMix.Cli", "bin", RepositoryPaths.Configuration, RepositoryPaths.Framework, "ModelMix.Cli.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("build src/ModelMix.Cli first; not found: " + dll, dll);
    }

    /// <summary>A loopback port free at the time of asking.</summary>
    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
