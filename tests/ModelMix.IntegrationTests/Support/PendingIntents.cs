using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Support;

/// <summary>
/// Reads, as another process would, the attempt intents of a SQLite ledger still pending: those in its intent journal's
/// segment files (SqliteIntentFiles) whose record is not stored yet.
/// </summary>
internal static class PendingIntents
{
    public static List<LedgerIntent> Read(string db)
    {
        var files = new SqliteIntentFiles(db, NullLogger.Instance);
        var intents = files.ListSegments().SelectMany(segment => SqliteIntentFiles.Read(segment.Path)).ToList();
        if (intents.Count == 0)
        {
            return intents;
        }

        using var connection = new SqliteConnection($"Data Source={db};Pooling=False;Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT EXISTS (SELECT 1 FROM ledger_records WHERE id = $id);";
        var id = command.Parameters.Add("$id", SqliteType.Text);
        return intents.Where(intent =>
        {
            id.Value = intent.Id;
            return (long)command.ExecuteScalar()! == 0;
        }).ToList();
    }
}
