using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FakeAnthropic;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;

namespace ModelMix.IntegrationTests.Cli;

/// <summary>
/// The README cannot drift from the truth: its two set-up commands run as written (the first serves until /healthz
/// answers and the README's curl gets a message from FakeAnthropic; the second is the one CI runs), every command of
/// the tool is in its table and in docs/cli.md, and every command's help names the environment it reads.
/// The commands are read from the README's code blocks, so editing them there changes what is run here.
/// </summary>
public sealed partial class ReadmeTests
{
    private static readonly string Readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "README.md"));

    /// <summary>The set-up section's first bash block: its commands (comments dropped, continuations joined), in order.</summary>
    private static List<string> SetupCommands()
    {
        var blocks = BashBlocks(Section(Readme, "## Set-up on a fresh machine"));
        Assert.True(blocks.Count >= 2, "the README's set-up section has lost its code blocks");
        var commands = Commands(blocks[0]);
        Assert.True(commands.Count == 2, "the README's set-up block should hold exactly two commands (serve, then the tests), found: " + string.Join(" | ", commands));
        return commands;
    }

    [Fact]
    public async Task The_first_command_serves_and_the_readmes_request_is_answered()
    {
        var serve = SetupCommands()[0];
        var request = BashBlocks(Section(Readme, "## Set-up on a fresh machine")).Select(Commands).SelectMany(c => c).Single(c => c.StartsWith("curl ", StringComparison.Ordinal));
        Assert.DoesNotContain("--urls", serve, StringComparison.Ordinal); // the test picks the port through ASPNETCORE_URLS

        await using var fake = await FakeAnthropicServer.StartAsync();
        using var dir = new TempDirectory();
        var db = Path.Combine(dir.Path, "ledger.db");
        var url = $"http://127.0.0.1:{FreePort()}";
        // The command runs verbatim through bash, from the repository root. Only the environment is the test's: a free
        // port instead of 8080 (ASPNETCORE_URLS), FakeAnthropic as the upstream, a temporary ledger, and the build
        // configuration the tests were built in (so `dotnet run` finds its build up to date instead of building Debug).
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = url,
            ["ModelMix__Upstream"] = fake.BaseUrl.ToString(),
            ["ModelMix__Store"] = db,
            ["Configuration"] = RepositoryPaths.Configuration,
            ["MSBUILDDISABLENODEREUSE"] = "1",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
        };
        using var process = StartBash(serve, environment, out var output);
        try
        {
            await WaitUntilHealthyAsync(process, new Uri(url + "/"), output);

            // The README's request, as written, against the proxy's real address.
            var curl = AddressPattern().Replace(request, url, 1);
            var (exit, stdout, stderr) = await RunBashAsync(curl, TimeSpan.FromSeconds(60));
            Assert.True(exit == 0, $"the README's curl failed ({exit}): {stderr}");
            using var answer = JsonDocument.Parse(stdout);
            Assert.Equal("message", answer.RootElement.GetProperty("type").GetString());
            Assert.NotEmpty(answer.RootElement.GetProperty("content").EnumerateArray());

            var upstream = Assert.Single(fake.MessageRequests);
            Assert.Equal("sk-ant-...", upstream.Header("x-api-key")); // the README's ANTHROPIC_API_KEY reached the upstream
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task The_second_command_is_the_one_ci_runs_and_its_set_up_is_quiet_when_everything_is_there()
    {
        var tests = SetupCommands()[1];
        var ci = File.ReadAllLines(Path.Combine(RepositoryPaths.Root, ".ci", "run"))
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .ToList();

        // Exactly one line of CI runs tests, and it runs the README's command (its output piped on for the count line).
        var runs = ci.Where(line => line.Contains("dotnet test", StringComparison.Ordinal) || line.Contains("test.sh", StringComparison.Ordinal)).ToList();
        var line = Assert.Single(runs);
        Assert.True(line == tests || line.StartsWith(tests + " ", StringComparison.Ordinal),
            $"CI runs '{line}', the README says '{tests}'");

        // The script ends by running the whole solution's tests.
        var script = File.ReadAllText(Path.Combine(RepositoryPaths.Root, tests.TrimStart('.', '/')));
        Assert.Contains("exec dotnet test ModelMix.slnx -c Release \"$@\"", script, StringComparison.Ordinal);

        // The tests are running on this machine, so what they need from it is there: the set-up checks (the shared
        // folder, the SDK, the system packages; MODELMIX_SETUP_CHECK_ONLY stops the script after them) print nothing.
        var (exit, stdout, stderr) = await RunBashAsync(tests, TimeSpan.FromMinutes(1), new Dictionary<string, string> { ["MODELMIX_SETUP_CHECK_ONLY"] = "1" });
        Assert.True(exit == 0, $"{tests} (check only) exited {exit}: {stderr}{stdout}");
        Assert.Equal(string.Empty, stdout + stderr);
    }

    [Fact]
    public void Every_command_is_in_the_readme_table_and_in_docs_cli()
    {
        var table = Section(Readme, "## Commands").Split('\n')
            .Where(line => line.StartsWith("| `", StringComparison.Ordinal))
            .Select(line => line.Split(" | ")[0])
            .ToList();
        var docs = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "docs", "cli.md"));
        var leaves = Leaves(global::ModelMix.Cli.Program.BuildRoot()).ToList();
        Assert.Contains("batch cancel", leaves);
        Assert.Contains("export", leaves);
        Assert.Contains("migrate", leaves);

        foreach (var command in leaves)
        {
            var named = new Regex($"`(modelmix )?{Regex.Escape(command)}[ `]");
            Assert.True(table.Exists(cell => named.IsMatch(cell)), $"the README's command table does not list `modelmix {command}`");
            Assert.True(docs.Contains("modelmix " + command, StringComparison.Ordinal), $"docs/cli.md does not describe `modelmix {command}`");
        }
    }

    [Fact]
    public async Task Every_commands_help_names_the_environment_variables_it_reads()
    {
        var root = global::ModelMix.Cli.Program.BuildRoot();
        var everything = new[] { "ANTHROPIC_API_KEY", "ModelMix__<Setting>", "ModelMix__Store", "ASPNETCORE_URLS", "MODELMIX_API_KEY", "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS" };

        // Every variable the tool's code reads by name is in the root's help.
        var rootHelp = await HelpAsync([]);
        var read = Directory.EnumerateFiles(Path.Combine(RepositoryPaths.Root, "src", "ModelMix.Cli"), "*.cs")
            .Concat(Directory.EnumerateFiles(Path.Combine(RepositoryPaths.Root, "src", "ModelMix.Server"), "*.cs", SearchOption.AllDirectories))
            .Where(file => !file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(file => EnvironmentRead().Matches(File.ReadAllText(file)).Select(match => match.Groups[1].Value))
            .Distinct()
            .ToList();
        Assert.Contains("ANTHROPIC_API_KEY", read);
        foreach (var name in read.Concat(everything))
        {
            Assert.Contains(name, rootHelp, StringComparison.Ordinal);
        }

        Assert.Contains("Usage:\n  modelmix [command] [options]", rootHelp, StringComparison.Ordinal);

        foreach (var (path, command) in All(root))
        {
            var expected = Expected(path, command);
            var help = await HelpAsync(path.Split(' '));
            Assert.False(string.IsNullOrWhiteSpace(command.Description), $"`modelmix {path}` has no description");
            foreach (var name in expected)
            {
                Assert.True(help.Contains(name, StringComparison.Ordinal), $"`modelmix {path} --help` does not name {name}:\n{help}");
            }

            // The usage line names the command people type, not the executable that runs it (ModelMix.Cli, a test host).
            Assert.True(help.Contains($"Usage:\n  modelmix {path}", StringComparison.Ordinal), $"`modelmix {path} --help` does not say `modelmix {path}` in its usage:\n{help}");

            if (expected.Exists(name => name.Contains("__", StringComparison.Ordinal) || name.Contains("_KEY", StringComparison.Ordinal)))
            {
                Assert.Contains("Environment:", help, StringComparison.Ordinal);
            }
        }
    }

    /// <summary>What a command's help must name: serve its endpoints and variables, a command with --db or --key their variable, a group (keys, batch) what its commands read.</summary>
    private static List<string> Expected(string path, Command command)
    {
        var expected = command.Subcommands.SelectMany(sub => Expected(path + " " + sub.Name, sub)).Where(name => name.Contains('_', StringComparison.Ordinal)).Distinct().ToList();
        if (path == "serve")
        {
            expected.AddRange(["ANTHROPIC_API_KEY", "ModelMix__<Setting>", "ASPNETCORE_URLS", "/v1/chat/completions", "/v1/responses", "/v1/messages", "/healthz"]);
        }

        if (command.Options.Any(option => option.Name == "--db"))
        {
            expected.Add("ModelMix__Store");
        }

        if (command.Options.Any(option => option.Name == "--key"))
        {
            expected.Add("MODELMIX_API_KEY");
        }

        return expected;
    }

    private static async Task<string> HelpAsync(string[] path)
    {
        using var output = new StringWriter();
        var exit = await global::ModelMix.Cli.Program.BuildRoot().Parse([.. path, "--help"]).InvokeAsync(new InvocationConfiguration { Output = output, Error = output });
        Assert.Equal(0, exit);
        return output.ToString();
    }

    /// <summary>Every command below the root, as its path ("keys create").</summary>
    private static IEnumerable<(string Path, Command Command)> All(Command command, string prefix = "")
    {
        foreach (var sub in command.Subcommands)
        {
            var path = prefix.Length == 0 ? sub.Name : prefix + " " + sub.Name;
            yield return (path, sub);
            foreach (var nested in All(sub, path))
            {
                yield return nested;
            }
        }
    }

    private static IEnumerable<string> Leaves(Command root) => All(root).Where(pair => pair.Command.Subcommands.Count == 0).Select(pair => pair.Path);

    private static string Section(string markdown, string heading)
    {
        var start = markdown.IndexOf("\n" + heading + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"README.md has no '{heading}' section");
        var end = markdown.IndexOf("\n## ", start + heading.Length + 2, StringComparison.Ordinal);
        return end < 0 ? markdown[start..] : markdown[start..end];
    }

    private static List<string> BashBlocks(string markdown) =>
        BashBlock().Matches(markdown).Select(match => match.Groups[1].Value).ToList();

    /// <summary>A block's commands: comment and blank lines dropped, backslash continuations joined.</summary>
    private static List<string> Commands(string block)
    {
        var commands = new List<string>();
        var current = new StringBuilder();
        foreach (var raw in block.Split('\n'))
        {
            var line = raw.TrimEnd();
            if (current.Length == 0 && (line.TrimStart().StartsWith('#') || line.Trim().Length == 0))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                current.Append(line[..^1]).Append(' ');
                continue;
            }

            current.Append(line.Trim());
            commands.Add(current.ToString().Trim());
            current.Clear();
        }

        return commands;
    }

    private static Process StartBash(string command, IReadOnlyDictionary<string, string> environment, out StringBuilder output)
    {
        var start = new ProcessStartInfo("bash")
        {
            WorkingDirectory = RepositoryPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command);
        start.Environment.Remove("ANTHROPIC_API_KEY");
        start.Environment.Remove("ModelMix__UpstreamApiKey");
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash");
        var lines = new StringBuilder();
        process.OutputDataReceived += (_, line) => { lock (lines) { lines.AppendLine(line.Data); } };
        process.ErrorDataReceived += (_, line) => { lock (lines) { lines.AppendLine(line.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        output = lines;
        return process;
    }

    private static async Task<(int Exit, string Output, string Error)> RunBashAsync(string command, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("bash")
        {
            WorkingDirectory = RepositoryPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cancel.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// Polls /healthz until it answers (the proxy is up) or 6 minutes pass: a cold `dotnet run` may build, and it took
    /// 150 s on the 2-core machine at load ≈ 60, close to the 3 minutes allowed before.
    /// </summary>
    private static async Task WaitUntilHealthyAsync(Process process, Uri url, StringBuilder output)
    {
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(6))
        {
            if (process.HasExited)
            {
                lock (output)
                {
                    Assert.Fail($"the README's first command exited ({process.ExitCode}) before serving:\n{output}");
                }
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

            await Task.Delay(200);
        }

        lock (output)
        {
            Assert.Fail("the README's first command did not answer /healthz within 3 minutes:\n" + output);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"```bash\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex BashBlock();

    [GeneratedRegex(@"https?://127\.0\.0\.1:\d+")]
    private static partial Regex AddressPattern();

    [GeneratedRegex("""GetEnvironmentVariable\("([A-Za-z_][A-Za-z0-9_]*)"\)""")]
    private static partial Regex EnvironmentRead();
}
