using Microsoft.Extensions.Time.Testing;
using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The journal's stop waits for the commit under way at most its timeout (docs/ledger.md, "Durability"): its write has
/// no token, so a database that does not answer would otherwise hold a replica's stop for as long as it does.
/// </summary>
public sealed class AttemptJournalStopTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task A_stop_gives_up_on_a_commit_that_does_not_end_within_its_timeout_and_counts_the_intents_it_left()
    {
        var release = new TaskCompletionSource();
        var store = new JournalSpy { Gate = release.Task };
        var journal = new AttemptJournal(store, "me", _time);
        var first = journal.RegisterAsync(LedgerIntent.For(LedgerRecords.Simple(1), default, null)); // commits (held by the store)
        await store.WriteStarted.Task;
        var second = journal.RegisterAsync(LedgerIntent.For(LedgerRecords.Simple(2), default, null)); // queued behind it

        var stop = journal.StopAsync(TimeSpan.FromSeconds(2));
        _time.Advance(TimeSpan.FromSeconds(1.999));
        Assert.False(stop.IsCompleted); // still within its timeout
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, await stop); // one in the commit under way, one queued behind it
        Assert.Throws<ObjectDisposedException>(() => { _ = journal.RegisterAsync(LedgerIntent.For(LedgerRecords.Simple(3), default, null)); }); // refused at once

        release.SetResult(); // the database answers after all: both intents are committed, as reconciliation expects
        await Task.WhenAll(first, second);
        Assert.Equal(2, store.IntentsWritten);
    }

    [Fact]
    public async Task A_stop_waits_for_a_commit_that_ends_within_its_timeout()
    {
        var release = new TaskCompletionSource();
        var store = new JournalSpy { Gate = release.Task };
        var journal = new AttemptJournal(store, "me", _time);
        var first = journal.RegisterAsync(LedgerIntent.For(LedgerRecords.Simple(1), default, null));
        await store.WriteStarted.Task;

        var stop = journal.StopAsync(TimeSpan.FromSeconds(2));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(stop.IsCompleted);
        release.SetResult();
        Assert.Equal(0, await stop);
        await first;
        Assert.Equal(1, store.IntentsWritten);
    }
}
