using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Samples;

/// <summary>
/// What the sample tests (<see cref="SampleAppTests"/>, <see cref="NativeAotSampleTests"/>, <see cref="ToolPackageTests"/>)
/// share to build an app as an adopter would: ModelMix's packages packed at a fresh version (so no cached package stands
/// in for them) into a local feed in a temp folder, a sample built or published against that feed with its bin/obj in
/// the temp folder too, commands run to their end within a time limit (output captured, a non-zero exit fails the
/// test), and the SQLite ledger the app wrote.
/// </summary>
/// <remarks>
/// Packed with their bin/obj under the temp folder (<c>--artifacts-path</c>): a pack in the checkout's own bin/obj
/// rebuilt src/ModelMix at the sample's version while other tests ran the CLI, and a later incremental build copied that
/// ModelMix.dll beside the CLI (CI: "Could not load file or assembly 'ModelMix, Version=0.9.0.0'").
/// </remarks>
internal sealed class SampleBuild : IDisposable
{
    /// <summary>The limit of a command that is not given one (a pack or a build under the full suite's load).</summary>
    private static readonly TimeSpan DefaultLimit = TimeSpan.FromMinutes(8);

    private readonly TempDirectory _dir = new();

    private SampleBuild(string version) => Version = version;

    /// <summary>The temp folder (deleted on dispose).</summary>
    public string Folder => _dir.Path;

    /// <summary>The local package feed the packs write to and the samples restore from.</summary>
    public string Feed => Path.Combine(Folder, "feed");

    /// <summary>The version every package of this build carries.</summary>
    public string Version { get; }

    /// <summary>
    /// A build at the repository's <c>VersionPrefix</c> with the suffix <paramref name="label"/> and a timestamp: every
    /// assembly of the packages keeps the one assembly version, whichever build of the core a later pack compiled against.
    /// </summary>
    public static SampleBuild Create(string label) => At(VersionPrefix(RepositoryPaths.Root), label);

    /// <summary>A build at <paramref name="prefix"/> with the suffix <paramref name="label"/> and a timestamp.</summary>
    public static SampleBuild At(string prefix, string label) => new($"{prefix}-{label}{DateTime.UtcNow:yyyyMMddHHmmssfff}");

    /// <summary>
    /// Packs <c>src/NAME/NAME.csproj</c> for each of <paramref name="projects"/>, in order, into <see cref="Feed"/>
    /// (the first pack builds what later ones reference under the same artifacts path, so they only pack).
    /// </summary>
    public async Task PackAsync(params string[] projects)
    {
        var root = RepositoryPaths.Root;
        foreach (var project in projects)
        {
            await RunAsync(root, "dotnet", "pack", Path.Combine(root, "src", project, project + ".csproj"), "-c", "Release", "-o", Feed,
                $"-p:Version={Version}", "--artifacts-path", Path.Combine(Folder, "artifacts"));
        }
    }

    /// <summary>
    /// <c>dotnet build</c> of <c>samples/NAME/NAME.csproj</c> against <see cref="Feed"/>, into a folder it returns.
    /// </summary>
    public async Task<string> BuildSampleAsync(string sample)
    {
        var output = Path.Combine(Folder, "app");
        await RunAsync(RepositoryPaths.Root, "dotnet", SampleArguments("build", sample, output), [], DefaultLimit);
        return output;
    }

    /// <summary>
    /// <c>dotnet publish</c> of <c>samples/NAME/NAME.csproj</c> against <see cref="Feed"/> with <paramref name="extra"/>
    /// arguments (e.g. a runtime identifier) and its bin folder in the temp folder too, within <paramref name="limit"/>;
    /// returns the output folder and what the publish printed.
    /// </summary>
    public async Task<(string Output, string Printed)> PublishSampleAsync(string sample, TimeSpan limit, params string[] extra)
    {
        var output = Path.Combine(Folder, "app");
        string[] arguments = [.. SampleArguments("publish", sample, output), .. extra, $"-p:BaseOutputPath={Path.Combine(Folder, "bin")}{Path.DirectorySeparatorChar}"];
        return (output, await RunAsync(RepositoryPaths.Root, "dotnet", arguments, [], limit));
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>Every row of the SQLite ledger at <paramref name="db"/>, in timestamp order.</summary>
    public static async Task<List<LedgerRecord>> ReadLedgerAsync(string db)
    {
        var records = new List<LedgerRecord>();
        await using (var store = new SqliteLedgerStore(db))
        {
            await store.MigrateAsync();
            await foreach (var record in store.ReadAsync(new LedgerQuery()))
            {
                records.Add(record);
            }
        }

        SqliteConnection.ClearAllPools();
        return records;
    }

    /// <summary>The cost a sample printed for its call (<c>cost $0.0002</c>).</summary>
    public static decimal PrintedCost(string printed) =>
        decimal.Parse(Regex.Match(printed, @"cost \$([0-9.]+)").Groups[1].Value, CultureInfo.InvariantCulture);

    internal static string VersionPrefix(string root) =>
        Regex.Match(File.ReadAllText(Path.Combine(root, "Directory.Build.props")), "<VersionPrefix>([^<]+)</VersionPrefix>").Groups[1].Value;

    /// <summary>Runs <paramref name="file"/> to its end (within 8 minutes); returns its standard output.</summary>
    internal static Task<string> RunAsync(string workingDirectory, string file, params string[] arguments) =>
        RunAsync(workingDirectory, file, arguments, [], DefaultLimit);

    /// <summary>Runs <paramref name="file"/> with <paramref name="environment"/> to its end (within 8 minutes).</summary>
    internal static Task<string> RunAsync(string workingDirectory, string file, string[] arguments, Dictionary<string, string> environment) =>
        RunAsync(workingDirectory, file, arguments, environment, DefaultLimit);

    /// <summary>
    /// Runs <paramref name="file"/> to its end within <paramref name="limit"/> (killed, with its children, past it); a
    /// non-zero exit fails the test with both outputs. Returns its standard output.
    /// </summary>
    internal static async Task<string> RunAsync(string workingDirectory, string file, string[] arguments, Dictionary<string, string> environment, TimeSpan limit)
    {
        using var process = Process.Start(StartInfo(workingDirectory, file, arguments, environment))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true); // not left running (a native compile holds both cores)
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} still running after {limit}");
        }

        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{await stdout}\n{await stderr}");
        return await stdout;
    }

    /// <summary><paramref name="file"/> with <paramref name="arguments"/> and <paramref name="environment"/>, its output redirected.</summary>
    internal static ProcessStartInfo StartInfo(string workingDirectory, string file, IEnumerable<string> arguments, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        return start;
    }

    private string[] SampleArguments(string verb, string sample, string output) =>
    [
        verb, Path.Combine(RepositoryPaths.Root, "samples", sample, sample + ".csproj"), "-c", "Release", "-o", output,
        $"-p:ModelMixVersion={Version}", $"-p:RestoreAdditionalProjectSources={Feed}",
        // The sample's own obj under the temp folder: parallel runs and the checkout stay clean.
        $"-p:BaseIntermediateOutputPath={Path.Combine(Folder, "obj")}{Path.DirectorySeparatorChar}",
    ];
}

/// <summary>
/// A sample app kept running in the background (a web app), its output captured: waited for on one of its paths, then
/// stopped with SIGTERM (a normal stop), or killed if the test ends first.
/// </summary>
internal sealed class SampleProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _log = new();

    private SampleProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, line) => { if (line.Data is not null) { _log.Enqueue(line.Data); } };
        process.ErrorDataReceived += (_, line) => { if (line.Data is not null) { _log.Enqueue(line.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>What it printed so far, one line each.</summary>
    public string Log => string.Join("\n", _log);

    /// <summary>Starts <c>dotnet <paramref name="arguments"/></c> in <paramref name="workingDirectory"/> with <paramref name="environment"/>.</summary>
    public static SampleProcess Start(string workingDirectory, IEnumerable<string> arguments, Dictionary<string, string> environment)
    {
        return new SampleProcess(Process.Start(SampleBuild.StartInfo(workingDirectory, "dotnet", arguments, environment))!);
    }

    /// <summary>Polls GET <paramref name="path"/> until it answers 200 (the app is up), for up to 3 minutes (a cold start on a loaded machine).</summary>
    public async Task<string> WaitForAsync(HttpClient http, string path)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(3))
        {
            Assert.False(_process.HasExited, "the app exited during start-up:\n" + Log);
            try
            {
                using var response = await http.GetAsync(path);
                if (response.IsSuccessStatusCode)
                {
                    return await response.Content.ReadAsStringAsync();
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("the app did not answer:\n" + Log);
    }

    /// <summary>Sends SIGTERM (a normal stop) and waits up to 2 minutes for the exit; returns its exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill!.WaitForExitAsync();
        }

        using var stopTimeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await _process.WaitForExitAsync(stopTimeout.Token);
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}
