using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

public sealed class BufferedLedgerTests : IDisposable
{
    // A guard against a hung test, never a wait for something to happen: every wait below is on a signal.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private readonly TempDatabase _db = new();
    private readonly FakeTimeProvider _time = new(LedgerRecords.Start);

    public void Dispose() => _db.Dispose();

    private Task<ObservedStore> OpenObservedStoreAsync() => ObservedStore.OpenSqliteAsync(_db.FilePath);

    private BufferedLedger Ledger(ILedgerStore store, LedgerOptions options, TimeProvider? time = null, ILogger<BufferedLedger>? logger = null) =>
        new(store, options, time ?? _time, logger ?? NullLogger<BufferedLedger>.Instance);

    [Fact]
    public async Task Dispose_commits_everything_recorded()
    {
        var options = new LedgerOptions { FlushInterval = TimeSpan.FromHours(1), MaxBatchSize = 1_000 };
        await using (var ledger = await BufferedLedger.OpenSqliteAsync(_db.FilePath, options, _time))
        {
            foreach (var record in LedgerRecords.Many(5_000))
            {
                await ledger.RecordAsync(record);
            }
        }

        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        var totals = await store.GetTotalsAsync(LedgerQuery.All);
        Assert.Equal(5_000, totals.Count);
        Assert.Equal(0.0055m, totals.TotalCost);
    }

    [Fact]
    public async Task A_restart_reads_the_same_totals()
    {
        LedgerTotals before;
        await using (var ledger = await BufferedLedger.OpenSqliteAsync(_db.FilePath, time: _time))
        {
            foreach (var record in LedgerRecords.Many(3_000))
            {
                await ledger.RecordAsync(record with { Cost = record.Cost!.Value with { Output = 0.0262845m } });
            }

            await ledger.FlushAsync();
            before = await ledger.GetTotalsAsync(LedgerQuery.All);
        }

        await using var reopened = await BufferedLedger.OpenSqliteAsync(_db.FilePath, time: _time);
        var after = await reopened.GetTotalsAsync(LedgerQuery.All);

        Assert.Equal(before, after);
        Assert.Equal(3_000, after.Count);
        Assert.Equal(0.0033m + 78.8535m, after.TotalCost);
        Assert.Equal(3_000, await reopened.Store.CountAsync(LedgerQuery.All));
    }

    [Fact]
    public async Task The_flush_interval_commits_without_an_explicit_flush()
    {
        var store = await OpenObservedStoreAsync();
        await using var ledger = Ledger(store, new LedgerOptions { FlushInterval = TimeSpan.FromMilliseconds(100) });

        await ledger.RecordAsync(LedgerRecords.Simple(1));
        await ledger.RecordAsync(LedgerRecords.Simple(2));
        await ledger.RecordAsync(LedgerRecords.Simple(3));
        Assert.Equal(0, store.Committed); // the clock has not moved and the batch is not full

        _time.Advance(TimeSpan.FromMilliseconds(100));
        await store.WhenCommitted(3).WaitAsync(Guard);

        Assert.Equal([3], store.BatchSizes);
        Assert.Equal(3, await store.Inner.CountAsync(LedgerQuery.All));
    }

    [Fact]
    public async Task A_full_batch_commits_without_waiting_for_the_interval()
    {
        var store = await OpenObservedStoreAsync();
        await using var ledger = Ledger(store, new LedgerOptions { MaxBatchSize = 10 });

        foreach (var record in LedgerRecords.Many(25))
        {
            await ledger.RecordAsync(record);
        }

        await store.WhenCommitted(20).WaitAsync(Guard);
        Assert.Equal(20, store.Committed); // the last 5 wait for the interval or a flush

        await ledger.FlushAsync();
        Assert.Equal([10, 10, 5], store.BatchSizes);
    }

    [Fact]
    public async Task A_full_buffer_makes_the_caller_wait_and_drops_nothing()
    {
        var store = await OpenObservedStoreAsync();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Gate = gate.Task;
        await using var ledger = Ledger(store, new LedgerOptions { Capacity = 2, MaxBatchSize = 1 });

        await ledger.RecordAsync(LedgerRecords.Simple(0));
        await store.WriteStarted.Task.WaitAsync(Guard); // the writer holds record 0 and is stuck committing it
        var second = ledger.RecordAsync(LedgerRecords.Simple(1));
        var third = ledger.RecordAsync(LedgerRecords.Simple(2));
        var fourth = ledger.RecordAsync(LedgerRecords.Simple(3));

        Assert.True(second.IsCompletedSuccessfully);
        Assert.True(third.IsCompletedSuccessfully);
        Assert.False(fourth.IsCompleted); // the buffer (capacity 2) is full: the caller waits

        gate.SetResult();
        await fourth.AsTask().WaitAsync(Guard);
        await ledger.FlushAsync();

        var ids = new List<string>();
        await foreach (var record in ledger.ReadAsync(LedgerQuery.All))
        {
            ids.Add(record.Id);
        }

        Assert.Equal(LedgerRecords.Many(4).Select(r => r.Id), ids);
    }

    [Fact]
    public async Task Concurrent_recording_from_many_tasks_loses_nothing()
    {
        var options = new LedgerOptions { Capacity = 64, MaxBatchSize = 100 };
        await using var ledger = await BufferedLedger.OpenSqliteAsync(_db.FilePath, options);

        await Task.WhenAll(Enumerable.Range(0, 16).Select(worker => Task.Run(async () =>
        {
            foreach (var record in LedgerRecords.Many(1_000, offset: worker * 1_000))
            {
                await ledger.RecordAsync(record);
            }
        })));
        await ledger.FlushAsync();

        var totals = await ledger.GetTotalsAsync(LedgerQuery.All);
        Assert.Equal(16_000, totals.Count);
        Assert.Equal(0.0176m, totals.TotalCost);
    }

    [Fact]
    public async Task A_failed_commit_is_logged_and_retried_not_dropped()
    {
        var store = await OpenObservedStoreAsync();
        store.FailNextWrites(3);
        var logger = new ListLogger<BufferedLedger>();
        var options = new LedgerOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(1), RetryMaxDelay = TimeSpan.FromMilliseconds(4) };
        await using var ledger = Ledger(store, options, TimeProvider.System, logger);

        foreach (var record in LedgerRecords.Many(10))
        {
            await ledger.RecordAsync(record);
        }

        await ledger.FlushAsync().WaitAsync(Guard);

        Assert.Equal(10, await store.Inner.CountAsync(LedgerQuery.All));
        var warnings = logger.Entries.Where(e => e.Level == LogLevel.Warning).ToList();
        Assert.Equal(3, warnings.Count);
        Assert.All(warnings, w => Assert.IsType<IOException>(w.Exception));
        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("after 4 attempts", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Dispose_retries_a_failing_store_until_everything_is_committed()
    {
        var store = await OpenObservedStoreAsync();
        store.FailNextWrites(2);
        var options = new LedgerOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(1), RetryMaxDelay = TimeSpan.FromMilliseconds(2) };
        var ledger = Ledger(store, options, TimeProvider.System);
        foreach (var record in LedgerRecords.Many(50))
        {
            await ledger.RecordAsync(record);
        }

        await ledger.DisposeAsync().AsTask().WaitAsync(Guard);

        Assert.Equal(50, await store.Inner.CountAsync(LedgerQuery.All));
        await store.DisposeAsync();
    }

    [Fact]
    public async Task After_FlushAsync_the_records_are_on_disk_for_an_independent_connection()
    {
        var options = new LedgerOptions { FlushInterval = TimeSpan.FromHours(1) };
        await using var ledger = await BufferedLedger.OpenSqliteAsync(_db.FilePath, options, _time);
        foreach (var record in LedgerRecords.Many(100))
        {
            await ledger.RecordAsync(record);
        }

        await ledger.FlushAsync();

        using var connection = _db.OpenIndependentConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*), SUM(input_tokens), MIN(cost_input), MAX(cost_input) FROM ledger_records;";
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal(100, reader.GetInt64(0));
        Assert.Equal(1_100, reader.GetInt64(1));
        Assert.Equal("0.0000011", reader.GetString(2));
        Assert.Equal("0.0000011", reader.GetString(3));
    }

    [Fact]
    public async Task After_dispose_recording_is_refused_and_flush_returns()
    {
        var store = await OpenObservedStoreAsync();
        var ledger = Ledger(store, new LedgerOptions());
        await ledger.RecordAsync(LedgerRecords.Simple(1));

        await ledger.DisposeAsync();
        await ledger.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => ledger.RecordAsync(LedgerRecords.Simple(2)).AsTask());
        await ledger.FlushAsync();
        Assert.Equal(1, await store.Inner.CountAsync(LedgerQuery.All));
        await store.DisposeAsync();
    }

    [Fact]
    public async Task A_record_the_store_could_never_accept_is_refused_at_the_door()
    {
        var store = await OpenObservedStoreAsync();
        await using var ledger = Ledger(store, new LedgerOptions());

        await Assert.ThrowsAsync<ArgumentException>(() => ledger.RecordAsync(LedgerRecords.Simple(1) with { RequestId = "" }).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => ledger.RecordAsync(LedgerRecords.Simple(1) with { Status = (LedgerStatus)42 }).AsTask());

        await ledger.FlushAsync();
        Assert.Equal(0, store.WriteCalls);
    }

    [Fact]
    public async Task Replaying_records_with_the_same_ids_through_the_ledger_does_not_double()
    {
        await using var ledger = await BufferedLedger.OpenSqliteAsync(_db.FilePath, time: _time);
        foreach (var record in LedgerRecords.Many(200).Concat(LedgerRecords.Many(200)))
        {
            await ledger.RecordAsync(record);
        }

        await ledger.FlushAsync();

        Assert.Equal(200, (await ledger.GetTotalsAsync(LedgerQuery.All)).Count);
    }
}
