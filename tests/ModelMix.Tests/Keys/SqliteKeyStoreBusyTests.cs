using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Budgets;
using ModelMix.Keys;
using ModelMix.Stores;

namespace ModelMix.Tests.Keys;

/// <summary>
/// <see cref="SqliteKeyStore"/>'s request-path reads (the ones the proxy makes: is there an active key, the key store's
/// change version, a key by its id) on a file another connection (not pooled, as another process's) holds exclusively:
/// each fails with a <see cref="StoreUnavailableException"/> naming its operation, reason <c>busy</c> (what the proxy
/// answers 503 <c>overloaded_error</c> with), once the store's short busy timeout passes; once the lock is released the
/// same store reads again. The store-unavailable <c>catch</c> of <c>SqlKeyStore.ReadOrUnavailableAsync</c> no SQLite test
/// reached.
/// </summary>
/// <remarks>
/// Only a store's first use can be shown failing so: a WAL file's readers are not blocked by another connection's write
/// lock, and no other connection can take the exclusive lock that blocks them while any connection (such as a store's own
/// write connection, open for its life once migrated) has the file open (checked by hand: <c>BEGIN EXCLUSIVE</c> in
/// exclusive locking mode waits for it and fails busy). So the key is made by one store, which is then closed, and the
/// reads are a second store's first — each begins with its migration (inside the read's <c>try</c>, so wrapped the same),
/// which is where the lock stops it, as it would a proxy starting while another process holds the file.
/// </remarks>
public sealed class SqliteKeyStoreBusyTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-key-busy-tests", Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
    private SqliteKeyStore _store = null!;
    private CreatedApiKey _key = null!;

    private string DbPath => Path.Combine(_folder, "ledger.db");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        await using (var first = new SqliteKeyStore(DbPath, _time))
        {
            await first.MigrateAsync();
            _key = await first.CreateAsync("team-a");
        }

        SqliteConnection.ClearAllPools(); // nothing of the first store keeps the file open
        _store = new SqliteKeyStore(DbPath, TimeSpan.FromMilliseconds(100), _time);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>Each read: its name, the operation named in the exception, and what it reads once released.</summary>
    public static TheoryData<string, string, string> Reads => new()
    {
        { "has_active", "keys.has_active", "True" },
        { "authenticate", "keys.authenticate", "team-a" },

        // The migration's row (version 1), then the key's insert (the key table's trigger): 2.
        { "change_version", "keys.authenticate", "2" },
    };

    [Theory]
    [MemberData(nameof(Reads))]
    public async Task A_first_read_on_a_file_another_connection_holds_exclusively_fails_as_unavailable_naming_its_operation_then_works_once_released(string read, string named, string expected)
    {
        StoreUnavailableException unavailable;
        var watch = Stopwatch.StartNew();
        await using (await HoldExclusiveLockAsync())
        {
            unavailable = await Assert.ThrowsAsync<StoreUnavailableException>(() => RunAsync(read));
            watch.Stop();
        }

        Assert.Equal(named, unavailable.Operation);
        Assert.Equal("busy", unavailable.Reason);
        Assert.Equal(5, Assert.IsType<SqliteException>(unavailable.InnerException).SqliteErrorCode); // SQLITE_BUSY
        Assert.DoesNotContain(_key.Key, unavailable.ToString(), StringComparison.Ordinal);

        // The store's own short timeout (whole seconds for Microsoft.Data.Sqlite's own retries: 1 s), not the default 10 s.
        Assert.True(watch.Elapsed < SqliteStoreFile.BusyTimeout, $"failed after {watch.Elapsed}");

        // Released: the same store migrates (a no-op: the first store did it) and reads.
        Assert.Equal(expected, await RunAsync(read));
    }

    /// <summary>Runs the read; what it returned, as text to compare.</summary>
    private async Task<string> RunAsync(string read) => read switch
    {
        "has_active" => (await _store.HasActiveKeysAsync()).ToString(),
        "authenticate" => (await _store.AuthenticateAsync(_key.Key))?.Name ?? "none",
        "change_version" => (await ((IKeyCredentialStore)_store).GetChangeVersionAsync(CancellationToken.None)).ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => throw new ArgumentOutOfRangeException(nameof(read), read, "no such case"),
    };

    /// <summary>
    /// Another connection (not pooled, as another process's) holding the file exclusively until disposed: in exclusive
    /// locking mode a WAL file's lock keeps readers out too (a plain <c>BEGIN IMMEDIATE</c> would not). It gets the lock
    /// only while no other connection has the file open.
    /// </summary>
    private async Task<SqliteConnection> HoldExclusiveLockAsync()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DbPath, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var begin = connection.CreateCommand();
        begin.CommandText = "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;";
        await begin.ExecuteNonQueryAsync();
        return connection;
    }
}
