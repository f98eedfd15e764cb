using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// Wraps a real store so a test can see each commit as it happens, hold commits behind a gate, or make the first
/// few commits fail.
/// </summary>
internal sealed class ObservedStore(ILedgerStore inner) : ILedgerStore
{
    private readonly Lock _lock = new();
    private readonly List<(long Target, TaskCompletionSource Done)> _waiters = [];
    private long _committed;
    private int _failuresLeft;

    public ILedgerStore Inner { get; } = inner;

    /// <summary>A migrated SQLite ledger at <paramref name="path"/>, observed.</summary>
    public static async Task<ObservedStore> OpenSqliteAsync(string path)
    {
        var store = new ObservedStore(new SqliteLedgerStore(path));
        await store.MigrateAsync();
        return store;
    }

    /// <summary>When set, each write waits for this task before committing.</summary>
    public Task? Gate { get; set; }

    /// <summary>Completes when a write has started (and reached the gate).</summary>
    public TaskCompletionSource WriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int _writeCalls;

    public int WriteCalls => Volatile.Read(ref _writeCalls);

    public List<int> BatchSizes { get; } = [];

    public long Committed => Interlocked.Read(ref _committed);

    public void FailNextWrites(int count) => _failuresLeft = count;

    /// <summary>Completes once at least <paramref name="count"/> records have been committed.</summary>
    public Task WhenCommitted(long count)
    {
        lock (_lock)
        {
            if (_committed >= count)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, done));
            return done.Task;
        }
    }

    public async Task WriteBatchAsync(IReadOnlyList<LedgerRecord> records, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _writeCalls);
        WriteStarted.TrySetResult();
        if (Gate is { } gate)
        {
            await gate;
        }

        if (Interlocked.Decrement(ref _failuresLeft) >= 0)
        {
            throw new IOException("disk full (simulated)");
        }

        await Inner.WriteBatchAsync(records, cancellationToken);
        lock (_lock)
        {
            BatchSizes.Add(records.Count);
            _committed += records.Count;
            foreach (var waiter in _waiters.Where(w => _committed >= w.Target).ToList())
            {
                waiter.Done.TrySetResult();
                _waiters.Remove(waiter);
            }
        }
    }

    public Task MigrateAsync(CancellationToken cancellationToken = default) => Inner.MigrateAsync(cancellationToken);

    public IAsyncEnumerable<LedgerRecord> ReadAsync(LedgerQuery query, CancellationToken cancellationToken = default) =>
        Inner.ReadAsync(query, cancellationToken);

    public Task<LedgerTotals> GetTotalsAsync(LedgerQuery query, CancellationToken cancellationToken = default) =>
        Inner.GetTotalsAsync(query, cancellationToken);

    public Task<long> CountAsync(LedgerQuery query, CancellationToken cancellationToken = default) =>
        Inner.CountAsync(query, cancellationToken);

    public ValueTask DisposeAsync() => Inner.DisposeAsync();
}
