using System.CommandLine;

namespace ModelMix.Cli;

/// <summary>The <c>modelmix</c> command line.</summary>
internal static class Program
{
    private static Task<int> Main(string[] args) => BuildRoot().Parse(args).InvokeAsync();

    /// <summary>Builds the command tree (also used by tests).</summary>
    internal static RootCommand BuildRoot()
    {
        var root = new RootCommand("ModelMix: route each Claude request to the cheapest model that clears its bar, and keep an exact ledger of every cent.")
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
        };
        return root;
    }
}
