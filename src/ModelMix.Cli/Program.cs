using System.CommandLine;

namespace ModelMix.Cli;

/// <summary>The <c>modelmix</c> command line.</summary>
internal static class Program
{
    private static Task<int> Main(string[] args) => BuildRoot().Parse(args).InvokeAsync();

    /// <summary>What <c>modelmix --help</c> says first (every command's help ends with the environment it reads: <see cref="HelpText"/>).</summary>
    internal const string Description =
        "ModelMix: route each Claude request to the cheapest model that clears its bar, and keep an exact ledger of every cent. " +
        "`modelmix COMMAND --help` describes a command and the environment variables it reads.";

    /// <summary>Builds the command tree (also used by tests).</summary>
    internal static RootCommand BuildRoot()
    {
        var root = new RootCommand(Description)
        {
            ServeCommand.Create(),
            PricesCommand.Create(),
            SavingsCommand.Create(),
            KeysCommand.Create(),
            ExportCommand.Create(),
            AuditCommand.Create(),
            MigrateCommand.Create(),
            BatchCommand.Create(),
            EvalCommand.Create(),
            TrainCommand.Create(),
            CalibrateCommand.Create(),
            DatasetCommand.Create(),
            LedgerCommand.Create(),
        };
        HelpText.Install(root);
        return root;
    }
}
