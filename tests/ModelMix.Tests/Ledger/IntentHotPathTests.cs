using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The SQLite intent journal's files (SqliteIntentFiles; docs/performance.md, "Attempt intent journal: intents in an
/// append-only file"): an intent is written on the caller's thread and never waits for SQLite's write lock; segments
/// whose intents all completed go away; a dead instance's segments are reconciled (a frame cut short by the crash
/// ends its reading) and deleted; a live instance whose segments a sweep took writes its pending intents again.
/// </summary>
public sealed class IntentHotPathTests : IDisposable
{
    private static readonly DateTimeOffset Started = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly TempDatabase _db = new();
    private int _next;

    public void Dispose() => _db.Dispose();

    private string IntentFolder => _db.FilePath + "-intents";

    [Fact]
    public async Task An_intent_is_written_before_the_call_returns()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteIntentsAsync("me", [NextIntent()], Started); // writes the heartbeat first

        // From a thread outside the pool, as a socket event thread: the write is done on return.
        var doneOnReturn = false;
        var caller = new Thread(() => doneOnReturn = store.WriteIntentsAsync("me", [NextIntent()], heartbeatAt: null).IsCompletedSuccessfully);
        caller.Start();
        caller.Join();

        Assert.True(doneOnReturn);
        Assert.Equal(2, ReadSegmentsIndependently().Count);
    }

    [Fact]
    public async Task An_intent_never_waits_for_another_connections_write_lock()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteIntentsAsync("me", [NextIntent()], Started);
        using var other = _db.OpenIndependentConnection();
        using (var begin = other.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE;"; // another connection (a key store, another process) holds the write lock
            begin.ExecuteNonQuery();
        }

        // In the database (before the intent files) this waited for the lock on a queued path; the file never does.
        var caller = new Thread(() => Assert.True(store.WriteIntentsAsync("me", [NextIntent()], heartbeatAt: null).IsCompletedSuccessfully));
        caller.Start();
        caller.Join();
        Assert.Equal(2, ReadSegmentsIndependently().Count);

        using var rollback = other.CreateCommand();
        rollback.CommandText = "ROLLBACK;";
        rollback.ExecuteNonQuery();
    }

    [Fact]
    public async Task Completed_intents_leave_no_file_behind_and_pending_ones_stay_for_reconciliation()
    {
        var intents = Enumerable.Range(0, 3).Select(_ => NextIntent()).ToList();
        await using (var store = new SqliteLedgerStore(_db.FilePath))
        {
            await store.MigrateAsync();
            await store.WriteIntentsAsync("me", [intents[0]], Started);
            await store.WriteIntentsAsync("me", [intents[1], intents[2]], heartbeatAt: null);
            await store.WriteBatchAsync([RecordOf(intents[0]), RecordOf(intents[1])]);
            Assert.Equal([intents[2].Id], (await store.PendingIntentsAsync()).Select(p => p.Intent.Id));
        }

        // Closed with one intent pending: its segment stays (for a sweep once "me" is stale).
        Assert.Single(Directory.GetFiles(IntentFolder));

        await using (var store = new SqliteLedgerStore(_db.FilePath))
        {
            await store.MigrateAsync();
            await store.WriteBatchAsync([RecordOf(intents[2])]); // the last one recorded after all (by a later process, say)
            Assert.Equal(0, await store.CountIntentsAsync());
            Assert.Equal(0, await store.ReconcileIntentsAsync("sweeper", Started.AddMinutes(5), TimeSpan.FromSeconds(30), r => r));
        }

        Assert.Empty(Directory.GetFiles(IntentFolder)); // the sweep deleted the dead instance's segment
    }

    [Fact]
    public async Task A_store_whose_intents_were_all_recorded_leaves_no_segment_when_it_closes()
    {
        // The commit tells the journal which intents its records complete; closing the store then deletes its drained
        // current segment. Without either, a file stays behind for a sweep that has nothing to do.
        var intents = Enumerable.Range(0, 2).Select(_ => NextIntent()).ToList();
        await using (var store = new SqliteLedgerStore(_db.FilePath))
        {
            await store.MigrateAsync();
            await store.WriteIntentsAsync("me", intents, Started);
            Assert.Single(Directory.GetFiles(IntentFolder));
            await store.WriteBatchAsync([RecordOf(intents[0]), RecordOf(intents[1])]);
        }

        Assert.Empty(Directory.GetFiles(IntentFolder));
    }

    [Fact]
    public async Task A_dead_instances_segment_becomes_outcome_unknown_records_up_to_a_frame_cut_short()
    {
        var answered = NextIntent();
        var lost = NextIntent();
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteIntentsAsync("dead", [answered, lost], Started);
        await store.WriteBatchAsync([RecordOf(answered)]);

        // The crash cut the next write short: a partial frame at the end, whose request was never sent.
        var segment = Assert.Single(Directory.GetFiles(IntentFolder));
        await using (var file = new FileStream(segment, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
        {
            file.Write([200, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7]);
        }

        Assert.Equal(1, await store.ReconcileIntentsAsync("sweeper", Started.AddMinutes(1), TimeSpan.FromSeconds(30), r => r));
        var rows = await store.ReadAsync(LedgerQuery.All).ToListAsync();
        Assert.Equal(2, rows.Count);
        var unknown = Assert.Single(rows, r => r.Id == lost.Id);
        Assert.Equal(LedgerStatus.OutcomeUnknown, unknown.Status);
        Assert.Equal(new TokenUsage(100, 1_024), unknown.Usage); // the intent's worst case
        Assert.Empty(Directory.GetFiles(IntentFolder));
        Assert.Equal(0, await store.CountIntentsAsync());
    }

    [Fact]
    public async Task A_live_instance_whose_segments_a_sweep_took_writes_its_pending_intents_again()
    {
        var first = NextIntent();
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteIntentsAsync("slow", [first], Started);

        // "slow" lives on but its heartbeat went stale: a sweep takes its segment and settles its intent as unknown.
        Assert.Equal(1, await store.ReconcileIntentsAsync("sweeper", Started.AddMinutes(1), TimeSpan.FromSeconds(30), r => r));
        Assert.Empty(Directory.GetFiles(IntentFolder));

        // Its next heartbeat notices and writes what is still pending (first: no record of its own yet) again, so a
        // crash from here on still leaves it known; a new intent goes to the new segment too.
        await store.HeartbeatAsync("slow", Started.AddMinutes(1));
        var second = NextIntent();
        await store.WriteIntentsAsync("slow", [second], heartbeatAt: null);
        var ids = ReadSegmentsIndependently().Select(i => i.Id).Order().ToList();
        Assert.Equal(new[] { first.Id, second.Id }.Order(), ids);
    }

    private List<LedgerIntent> ReadSegmentsIndependently() =>
        [.. Directory.GetFiles(IntentFolder).SelectMany(path => ReadSegment(path))];

    /// <summary>Reads a segment file without the store (the framing: length, CRC-32C, payload; the id first in it).</summary>
    private static IEnumerable<LedgerIntent> ReadSegment(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var at = 0;
        while (bytes.Length - at >= 8)
        {
            var length = BitConverter.ToInt32(bytes, at);
            if (length <= 0 || bytes.Length - at - 8 < length)
            {
                yield break;
            }

            var idLength = BitConverter.ToInt32(bytes, at + 8);
            yield return new LedgerIntent
            {
                Id = System.Text.Encoding.UTF8.GetString(bytes, at + 12, idLength),
                CreatedAt = Started,
                RequestId = "?",
                RequestedModel = "?",
                RoutedModel = "?",
            };
            at += 8 + length;
        }
    }

    private static LedgerRecord RecordOf(LedgerIntent intent) => intent.ToOutcomeUnknownRecord() with
    {
        Status = LedgerStatus.Ok,
        ErrorType = null,
        HttpStatus = 200,
        UsageEstimated = false,
        Cost = new CostBreakdown(0.001m, 0m, 0m, 0m, 0m),
    };

    private LedgerIntent NextIntent()
    {
        var n = ++_next;
        var at = Started.AddMilliseconds(n);
        return new LedgerIntent
        {
            Id = LedgerIds.New(at),
            CreatedAt = at,
            RequestId = "req-" + n.ToString(System.Globalization.CultureInfo.InvariantCulture),
            RequestedModel = "auto",
            RoutedModel = "claude-haiku-4-5",
            InputTokens = 100,
            OutputTokens = 1_024,
        };
    }
}
