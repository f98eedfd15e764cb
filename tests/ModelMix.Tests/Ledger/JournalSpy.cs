using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

/// <summary>A journal store that keeps what it is asked to commit, and can hold or fail its commits.</summary>
internal sealed class JournalSpy : IAttemptJournalStore
{
    private readonly Lock _lock = new();
    private readonly List<(IReadOnlyList<LedgerRecord> Records, IReadOnlyList<ReservationSettlement> Settlements)> _commits = [];
    private readonly List<IReadOnlyList<LedgerRecord>> _batches = [];
    private int _writeCalls;
    private int _disposals;
    private int _intentsWritten;

    public Task? Gate { get; init; }

    public Exception? FailWith { get; init; }

    public Exception? MigrateFailure { get; init; }

    public bool Migrated { get; private set; }

    public bool Disposed => Disposals > 0;

    public int Disposals => Volatile.Read(ref _disposals);

    public TaskCompletionSource WriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int WriteCalls => Volatile.Read(ref _writeCalls);

    public IReadOnlyList<(IReadOnlyList<LedgerRecord> Records, IReadOnlyList<ReservationSettlement> Settlements)> Commits
    {
        get
        {
            lock (_lock)
            {
                return _commits.ToList();
            }
        }
    }

    public IReadOnlyList<IReadOnlyList<LedgerRecord>> Batches
    {
        get
        {
            lock (_lock)
            {
                return _batches.ToList();
            }
        }
    }

    public Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        if (MigrateFailure is { } failure)
        {
            throw failure;
        }

        Migrated = true;
        return Task.CompletedTask;
    }

    public async Task WriteBatchAsync(IReadOnlyList<LedgerRecord> records, CancellationToken cancellationToken = default)
    {
        await EnterAsync();
        lock (_lock)
        {
            _batches.Add(records.ToList());
        }
    }

    public async Task CommitAsync(IReadOnlyList<LedgerRecord> records, IReadOnlyList<ReservationSettlement> settlements, CancellationToken cancellationToken = default)
    {
        await EnterAsync();
        lock (_lock)
        {
            _commits.Add((records.ToList(), settlements.ToList()));
        }
    }

    private async Task EnterAsync()
    {
        Interlocked.Increment(ref _writeCalls);
        WriteStarted.TrySetResult();
        if (Gate is { } gate)
        {
            await gate;
        }

        if (FailWith is { } failure)
        {
            throw failure;
        }
    }

    public ValueTask DisposeAsync()
    {
        Interlocked.Increment(ref _disposals);
        return default;
    }

    public IAsyncEnumerable<LedgerRecord> ReadAsync(LedgerQuery query, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<LedgerTotals> GetTotalsAsync(LedgerQuery query, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<long> CountAsync(LedgerQuery query, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    /// <summary>How many intents <see cref="WriteIntentsAsync"/> committed (held by <see cref="Gate"/> like the other writes).</summary>
    public int IntentsWritten => Volatile.Read(ref _intentsWritten);

    public async Task WriteIntentsAsync(string instanceId, IReadOnlyList<LedgerIntent> intents, DateTimeOffset? heartbeatAt, CancellationToken cancellationToken = default)
    {
        await EnterAsync();
        Interlocked.Add(ref _intentsWritten, intents.Count);
    }

    public Task HeartbeatAsync(string instanceId, DateTimeOffset at, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<int> ReconcileIntentsAsync(string selfInstanceId, DateTimeOffset at, TimeSpan staleAfter, Func<LedgerRecord, LedgerRecord> price, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<long> CountIntentsAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();
}
