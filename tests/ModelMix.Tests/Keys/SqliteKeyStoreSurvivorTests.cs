using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Keys;

namespace ModelMix.Tests.Keys;

/// <summary>
/// Written from the fourteenth session's <c>keys-sqlite</c> mutation run (docs/testing.md): a migrated store does not
/// migrate again on every use (a migration takes the file's write lock, so reads would then wait on any writer), and the
/// key tables are <c>STRICT</c>, so a row written beside the store (the CLI, another process, SQL by hand, as the change
/// version's triggers expect) with a value of the wrong type is refused rather than read back as garbage.
/// </summary>
public sealed class SqliteKeyStoreSurvivorTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-key-survivor-tests", Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 8, 12, 0, 0, TimeSpan.Zero));
    private SqliteKeyStore _store = null!;

    private string DbPath => Path.Combine(_folder, "ledger.db");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);

        // A short busy timeout: a read that waited on the write lock fails in 100 ms instead of 10 s.
        _store = new SqliteKeyStore(DbPath, TimeSpan.FromMilliseconds(100), _time);
        await _store.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task A_migrated_store_reads_while_another_connection_holds_the_write_lock()
    {
        var created = await _store.CreateAsync("team-a");

        // Another connection (not pooled, as another process's) holds the write lock, as the ledger writer does while it
        // commits. A WAL file's readers do not wait for it; a store that migrated again before each read would (its
        // migration is a BEGIN IMMEDIATE transaction) and fail busy.
        using var other = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DbPath, Pooling = false }.ToString());
        other.Open();
        Execute(other, "BEGIN IMMEDIATE;");

        Assert.True(await _store.HasActiveKeysAsync());
        Assert.Equal("team-a", (await _store.AuthenticateAsync(created.Key))?.Name);
        Assert.Equal(["team-a"], (await _store.ListAsync()).Select(key => key.Name));

        Execute(other, "COMMIT;");
    }

    [Theory]
    [InlineData("INSERT INTO api_keys (id, name, salt, hash, is_admin, created_at) VALUES ('mmk_x', 'by-hand', x'00', x'00', 0, 'yesterday');")]
    [InlineData("INSERT INTO api_key_budgets (key_id, period, cap_nanos) VALUES ('mmk_x', 'day', 'lots');")]
    public void A_row_written_by_hand_with_a_value_of_the_wrong_type_is_refused(string sql)
    {
        // 'yesterday' where created_at is an INTEGER, 'lots' where the cap is: a table that is not STRICT stores both.
        using var other = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DbPath, Pooling = false }.ToString());
        other.Open();
        var refused = Assert.Throws<SqliteException>(() => Execute(other, sql));
        Assert.Contains("cannot store", refused.Message, StringComparison.Ordinal);
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
