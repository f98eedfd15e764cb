using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace ModelMix.Cli;

/// <summary>
/// Ends every command's <c>--help</c> with the environment variables it reads: the root lists all of them, <c>serve</c>
/// its own, a command with <c>--db</c> <c>ModelMix__Store</c>, a command with <c>--key</c> <c>MODELMIX_API_KEY</c>, a
/// group (<c>keys</c>, <c>batch</c>) what its commands read.
/// </summary>
internal static class HelpText
{
    /// <summary>Every variable, with what it means; the root's help lists them all.</summary>
    internal static readonly IReadOnlyList<(string Name, string Meaning)> All =
    [
        ("ANTHROPIC_API_KEY", "serve: the upstream API key. Without it the proxy starts and says upstream calls will fail."),
        ("ModelMix__<Setting>", "serve: any proxy setting of docs/configuration.md, e.g. ModelMix__Upstream, ModelMix__UpstreamApiKey, ModelMix__Routing__Default."),
        ("ModelMix__Store", "every command with --db: the default store (a SQLite file or postgres://…), else ./modelmix.db."),
        ("ASPNETCORE_URLS", "serve: the listen addresses when --urls is absent (default http://127.0.0.1:8080)."),
        ("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "serve: 0 keeps the runtime's own socket scheduling (serve sets 1 otherwise; docs/performance.md)."),
        ("MODELMIX_API_KEY", "batch: the virtual key when --key is absent."),
    ];

    /// <summary>The variables <paramref name="command"/> reads.</summary>
    /// <param name="command">A command of the tree.</param>
    internal static IReadOnlyList<(string Name, string Meaning)> For(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command is RootCommand)
        {
            return All;
        }

        var names = new List<string>();
        if (command.Subcommands.Count > 0)
        {
            // A group (keys, batch, dataset): what its commands read.
            names.AddRange(command.Subcommands.SelectMany(For).Select(variable => variable.Name));
        }

        if (command.Name == "serve")
        {
            names.AddRange(["ANTHROPIC_API_KEY", "ModelMix__<Setting>", "ASPNETCORE_URLS", "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"]);
        }

        if (command.Options.Any(option => option.Name == "--db"))
        {
            names.Add("ModelMix__Store");
        }

        if (command.Options.Any(option => option.Name == "--key"))
        {
            names.Add("MODELMIX_API_KEY");
        }

        return All.Where(variable => names.Contains(variable.Name, StringComparer.Ordinal)).ToList();
    }

    /// <summary>Makes the root's help option (it applies to every command) end each help text with an "Environment:" section.</summary>
    /// <param name="root">The root command.</param>
    internal static void Install(RootCommand root)
    {
        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new EnvironmentHelpAction((SynchronousCommandLineAction)help.Action!);
    }

    /// <summary>The library's help, then the "Environment:" section of the command asked about.</summary>
    private sealed class EnvironmentHelpAction(SynchronousCommandLineAction help) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            // The library names the root after the running executable (ModelMix.Cli, or a test host); the usage lines
            // name the command people type, `modelmix`.
            var output = parseResult.InvocationConfiguration.Output;
            int code;
            using (var text = new StringWriter())
            {
                parseResult.InvocationConfiguration.Output = text;
                try
                {
                    code = help.Invoke(parseResult);
                }
                finally
                {
                    parseResult.InvocationConfiguration.Output = output;
                }

                output.Write(NameUsage(text.ToString(), parseResult.RootCommandResult.Command.Name));
            }

            var variables = For(parseResult.CommandResult.Command);
            if (variables.Count > 0)
            {
                output.WriteLine("Environment:");
                var width = variables.Max(variable => variable.Name.Length);
                foreach (var (name, meaning) in variables)
                {
                    output.WriteLine($"  {name.PadRight(width)}  {meaning}");
                }

                output.WriteLine();
            }

            return code;
        }
    }

    /// <summary>The command's name as people type it, in the help's usage lines.</summary>
    internal const string CommandName = "modelmix";

    /// <summary>Rewrites the "Usage:" section's lines that start with the root's name (<paramref name="rootName"/>) to start with <see cref="CommandName"/>.</summary>
    /// <param name="help">The help text as the library wrote it.</param>
    /// <param name="rootName">The root command's name (the executable's).</param>
    internal static string NameUsage(string help, string rootName)
    {
        var lines = help.Split('\n');
        var inUsage = false;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0 || !char.IsWhiteSpace(line[0]))
            {
                inUsage = line == "Usage:";
                continue;
            }

            var trimmed = line.TrimStart();
            if (inUsage && (trimmed == rootName || trimmed.StartsWith(rootName + " ", StringComparison.Ordinal)))
            {
                lines[i] = line[..(line.Length - trimmed.Length)] + CommandName + trimmed[rootName.Length..] + (lines[i].EndsWith('\r') ? "\r" : string.Empty);
            }
        }

        return string.Join('\n', lines);
    }
}
