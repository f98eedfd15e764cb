using Microsoft.Data.Sqlite;

namespace ModelMix.Tests.Ledger;

/// <summary>A fresh folder for real SQLite files, deleted (pools cleared first) when the test ends.</summary>
internal sealed class TempDatabase : IDisposable
{
    public TempDatabase()
    {
        Folder = Path.Combine(Path.GetTempPath(), "modelmix-ledger-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
        FilePath = Path.Combine(Folder, "ledger.db");
    }

    public string Folder { get; }

    public string FilePath { get; }

    /// <summary>An independent, unpooled connection: what another process would see.</summary>
    public SqliteConnection OpenIndependentConnection()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = FilePath,
            Pooling = false,
            Mode = SqliteOpenMode.ReadWriteCreate,
        }.ToString());
        connection.Open();
        return connection;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A pooled connection of a parallel test may still hold a handle briefly; the OS temp dir is cleaned anyway.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
