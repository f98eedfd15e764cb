using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Keys;

namespace ModelMix.Tests.Keys;

/// <summary>
/// Written from the keys-sqlite mutation run's survivors (docs/testing.md): every other SQLite key test calls
/// <see cref="SqliteKeyStore.MigrateAsync"/> first, so nothing showed that a store used without it creates its tables
/// on first use — by a write, and by a read.
/// </summary>
public sealed class SqliteKeyStoreFirstUseTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelmix-key-first-use", Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));

    public SqliteKeyStoreFirstUseTests() => Directory.CreateDirectory(_folder);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task A_store_never_migrated_creates_its_tables_on_its_first_write()
    {
        await using var store = new SqliteKeyStore(Path.Combine(_folder, "ledger.db"), _time);

        var created = await store.CreateAsync("team-a");

        Assert.Equal("team-a", (await store.AuthenticateAsync(created.Key))?.Name);
    }

    [Fact]
    public async Task A_store_never_migrated_creates_its_tables_on_its_first_read()
    {
        await using var store = new SqliteKeyStore(Path.Combine(_folder, "ledger.db"), _time);

        Assert.Empty(await store.ListAsync());
        Assert.False(await store.HasActiveKeysAsync());
        Assert.Null(await store.FindAsync("team-a"));
    }
}
