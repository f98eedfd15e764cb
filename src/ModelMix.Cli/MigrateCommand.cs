using System.CommandLine;
using ModelMix.Stores;

namespace ModelMix.Cli;

/// <summary>
/// <c>modelmix migrate</c>: creates or upgrades the store's tables (ledger, keys, budgets, cooldowns, batches) explicitly,
/// e.g. once before rolling out new replicas, instead of on the first start. Safe to run again; several replicas
/// migrating at once are serialized by the database.
/// </summary>
internal static class MigrateCommand
{
    public static Command Create()
    {
        var db = CommonOptions.Db();
        var command = new Command("migrate", "Create or upgrade the store's tables (ledger, keys, budgets, cooldowns, batches; on PostgreSQL also the shared cache-warm sessions) in a SQLite file or a PostgreSQL database.") { db };
        command.SetAction(async (result, cancellationToken) =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            StoreLocation? location = null;
            try
            {
                location = StoreLocation.Parse(result.GetValue(db)!);
                var done = await location.MigrateAllAsync(cancellationToken: cancellationToken);
                await output.WriteLineAsync($"Migrated {string.Join(", ", done)} in {location.Display}.");
                return 0;
            }
            catch (Exception exception) when (exception is FormatException or InvalidOperationException or IOException or UnauthorizedAccessException or System.Data.Common.DbException or System.Net.Sockets.SocketException or TimeoutException)
            {
                // Npgsql's messages never contain the password; the store is named by its redacted form.
                var where = location is null ? string.Empty : $" ({location.Display})";
                await error.WriteLineAsync($"modelmix migrate{where}: {exception.Message}");
                return 1;
            }
        });
        return command;
    }
}
