using System.Reflection;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// A test class with a fresh database of its own on the throwaway PostgreSQL cluster the tests share
/// (tests/Shared/PostgresServer.cs). The database is left for the cluster's teardown: dropping it would wait for the
/// pools of stores still closing, so disposing only clears the pools.
/// </summary>
/// <param name="database">The database's name prefix.</param>
public abstract class PostgresDatabaseTest(string database) : IAsyncLifetime
{
    /// <summary>The connection string of the test's database (set by <see cref="InitializeAsync"/>).</summary>
    protected string ConnectionString { get; private set; } = string.Empty;

    /// <inheritdoc />
    public virtual async Task InitializeAsync() => ConnectionString = await (await PostgresServer.GetAsync()).CreateDatabaseAsync(database);

    /// <inheritdoc />
    public virtual Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        return Task.CompletedTask;
    }
}

/// <summary>A <see cref="PostgresDatabaseTest"/> with a temporary folder of its own, deleted (best effort) at the end.</summary>
/// <param name="database">The database's name prefix.</param>
/// <param name="folderPrefix">The folder's name prefix under the system's temporary folder.</param>
public abstract class PostgresDatabaseFolderTest(string database, string folderPrefix) : PostgresDatabaseTest(database)
{
    /// <summary>The test's folder.</summary>
    protected string Folder { get; } = Path.Combine(Path.GetTempPath(), folderPrefix + Guid.NewGuid().ToString("N"));

    /// <inheritdoc />
    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Directory.CreateDirectory(Folder);
    }

    /// <inheritdoc />
    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }
}

/// <summary>
/// A ledger column test: records at fixed times, read back whole, and a database written by an older ModelMix (the
/// ledger's first steps, its version, one row in the old columns) for the store to upgrade in place.
/// </summary>
/// <param name="database">The database's name prefix.</param>
public abstract class PostgresLedgerColumnTest(string database) : PostgresDatabaseTest(database)
{
    /// <summary>The records' base time.</summary>
    protected static readonly DateTimeOffset T0 = new(2026, 3, 4, 12, 0, 0, TimeSpan.Zero);

    /// <summary>The ledger's migration steps, in order.</summary>
    protected static string[] Migrations { get; } =
        (string[])typeof(PostgresLedgerStore).GetField("Migrations", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!;

    /// <summary>A priced record <paramref name="second"/> seconds after <see cref="T0"/>.</summary>
    protected static LedgerRecord Record(string id, int second) => new()
    {
        Id = id,
        Timestamp = T0.AddSeconds(second).AddTicks(7),
        RequestId = "req-" + id,
        RequestedModel = "auto",
        RoutedModel = "claude-opus-4-6",
        Usage = new TokenUsage(1200, 340, CacheReadTokens: 4000),
        Cost = new CostBreakdown(0.006m, 0.0085m, 0m, 0m, 0.002m),
        LatencyMs = 900,
        HttpStatus = 200,
    };

    /// <summary>Every record of the store, in its order.</summary>
    protected static async Task<List<LedgerRecord>> ReadAllAsync(PostgresLedgerStore store)
    {
        var list = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(LedgerQuery.All))
        {
            list.Add(record);
        }

        return list;
    }

    /// <summary>
    /// Writes the database an older ModelMix wrote: the ledger's first <paramref name="previous"/> steps, its version,
    /// then <paramref name="insertOldRow"/> (a row in the old columns).
    /// </summary>
    protected async Task CreateAtVersionAsync(int previous, string insertOldRow)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        foreach (var step in Migrations.Take(previous))
        {
            await ExecuteAsync(connection, step);
        }

        await ExecuteAsync(connection, $"CREATE TABLE modelmix_schema_versions (component text PRIMARY KEY, version integer NOT NULL); INSERT INTO modelmix_schema_versions VALUES ('ledger', {previous});");
        await ExecuteAsync(connection, insertOldRow);
    }

    /// <summary>Asserts the database is at the ledger's current version, its last step.</summary>
    protected async Task AssertCurrentVersionAsync()
    {
        await using var check = new NpgsqlConnection(ConnectionString);
        await check.OpenAsync();
        await using var version = new NpgsqlCommand("SELECT version FROM modelmix_schema_versions WHERE component = 'ledger';", check);
        Assert.Equal(PostgresLedgerStore.SchemaVersion, (int)(await version.ExecuteScalarAsync())!);
        Assert.Equal(Migrations.Length, PostgresLedgerStore.SchemaVersion);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
