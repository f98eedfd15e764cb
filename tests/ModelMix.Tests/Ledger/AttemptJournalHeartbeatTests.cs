using Microsoft.Extensions.Time.Testing;
using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The journal refreshes its instance's heartbeat in an intent transaction only when the last durable one is older
/// than <see cref="AttemptJournal.HeartbeatRefresh"/> (docs/ledger.md, "Crash consistency"), on a real SQLite file.
/// </summary>
public sealed class AttemptJournalHeartbeatTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly TempDatabase _db = new();
    private readonly FakeTimeProvider _time = new(T0);

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task The_first_intent_writes_the_heartbeat_and_later_ones_only_once_it_is_older_than_the_refresh()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await using var journal = new AttemptJournal(store, "me", _time, TimeSpan.FromSeconds(5));

        await journal.RegisterAsync(LedgerIntent.For(LedgerRecords.Simple(1), default, null));
        Assert.Equal(T0, StoredHeartbeat()); // never an intent without its instance's row

        _time.Advance(TimeSpan.FromSeconds(4));
        await journal.RegisterAsync(LedgerIntent.For(LedgerRecords.Simple(2), default, null));
        Assert.Equal(T0, StoredHeartbeat()); // 4 s old < 5 s: not rewritten

        _time.Advance(TimeSpan.FromSeconds(1));
        await journal.RegisterAsync(LedgerIntent.For(LedgerRecords.Simple(3), default, null));
        Assert.Equal(T0.AddSeconds(5), StoredHeartbeat()); // 5 s old: refreshed with the intent

        _time.Advance(TimeSpan.FromSeconds(2));
        await journal.HeartbeatAsync(); // the timer's beat at T0 + 7 s
        _time.Advance(TimeSpan.FromSeconds(4));
        await journal.RegisterAsync(LedgerIntent.For(LedgerRecords.Simple(4), default, null));
        Assert.Equal(T0.AddSeconds(7), StoredHeartbeat()); // the timer's beat counts: 4 s old, not rewritten

        Assert.Equal(4, await store.CountIntentsAsync());
    }

    [Fact]
    public async Task A_zero_refresh_writes_the_heartbeat_in_every_intent_transaction()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await using var journal = new AttemptJournal(store, "me", _time, TimeSpan.Zero);

        await journal.RegisterAsync(LedgerIntent.For(LedgerRecords.Simple(1), default, null));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await journal.RegisterAsync(LedgerIntent.For(LedgerRecords.Simple(2), default, null));
        Assert.Equal(T0.AddMilliseconds(1), StoredHeartbeat());
    }

    private DateTimeOffset StoredHeartbeat()
    {
        using var connection = _db.OpenIndependentConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT heartbeat_at FROM ledger_instances WHERE instance_id = 'me';";
        var stored = (long)command.ExecuteScalar()!;
        return SqliteLedgerSchema.FromStoredTimestamp(stored);
    }
}
