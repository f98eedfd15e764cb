using ModelMix.Stores;

namespace ModelMix.Ledger;

/// <summary>
/// The attempt intent journal's writer (docs/ledger.md, "Crash consistency"): <see cref="RegisterAsync"/> queues an
/// intent and completes once it is committed. Group commit without a writer thread: a request that finds no commit
/// running commits the queue itself (its own intent and whatever arrived meanwhile) on its own thread; requests that
/// arrive while a commit runs queue up and go together in the next transaction, which a pool thread starts as soon as
/// the running one ends. At low load a request pays one transaction and no thread hop; under load many requests share
/// one durable write before their dispatch.
/// <para>
/// Heartbeat: the caller keeps this process's heartbeat fresh with <see cref="HeartbeatAsync"/> on a timer; an intent
/// transaction refreshes it as well only when the last durable heartbeat this journal knows of is older than
/// <see cref="HeartbeatRefresh"/> (always for the first intent, so an intent is never stored without its instance's
/// row). Hence, when an intent commits, its instance's heartbeat is at most <see cref="HeartbeatRefresh"/> plus one
/// transaction old; the proxy sets the refresh to its heartbeat interval, at most a third of <c>StaleAfter</c>.
/// </para>
/// </summary>
internal sealed class AttemptJournal : IAsyncDisposable
{
    /// <summary>The most intents committed in one transaction.</summary>
    public const int MaxBatchSize = 512;

    private readonly IAttemptJournalStore _store;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private List<(LedgerIntent Intent, TaskCompletionSource Committed)> _queue = [];
    private bool _committing;
    private bool _stopped;
    private TaskCompletionSource? _idle;
    private DateTimeOffset? _lastBeat; // the newest heartbeat known durable (guarded by _gate)
    private int _inFlight; // the intents of the commit under way (for what a bounded stop gave up)

    /// <summary>Creates the journal of <paramref name="instanceId"/> (this process) over a migrated store.</summary>
    /// <param name="store">The store of the intents and the heartbeat.</param>
    /// <param name="instanceId">This process's instance id.</param>
    /// <param name="time">The clock of the heartbeats.</param>
    /// <param name="heartbeatRefresh">
    /// How old the last durable heartbeat may be before an intent transaction refreshes it (default 1 s; zero: every
    /// intent transaction does). Keep it well inside the stale-after bound other replicas judge this one by.
    /// </param>
    public AttemptJournal(IAttemptJournalStore store, string instanceId, TimeProvider time, TimeSpan? heartbeatRefresh = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        ArgumentNullException.ThrowIfNull(time);
        var refresh = heartbeatRefresh ?? TimeSpan.FromSeconds(1);
        ArgumentOutOfRangeException.ThrowIfLessThan(refresh, TimeSpan.Zero, nameof(heartbeatRefresh));
        _store = store;
        InstanceId = instanceId;
        _time = time;
        HeartbeatRefresh = refresh;
    }

    /// <summary>How old the last durable heartbeat may be before an intent transaction refreshes it.</summary>
    public TimeSpan HeartbeatRefresh { get; }

    /// <summary>Records that this process is alive now (the timer's beat); intent transactions then skip it for <see cref="HeartbeatRefresh"/>.</summary>
    public async Task HeartbeatAsync(CancellationToken cancellationToken = default)
    {
        var at = _time.GetUtcNow();
        await _store.HeartbeatAsync(InstanceId, at, cancellationToken);
        NoteBeat(at);
    }

    /// <summary>This process's instance id: its intents and heartbeat carry it.</summary>
    public string InstanceId { get; }

    /// <summary>The store the intents go to.</summary>
    public IAttemptJournalStore Store => _store;

    /// <summary>A new instance id: host, process id and a random part (a restarted process is a new instance).</summary>
    public static string NewInstanceId() =>
        $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}";

    /// <summary>
    /// Journals <paramref name="intent"/> and completes when it is durable. A transient store failure surfaces as a
    /// <see cref="StoreUnavailableException"/> (the proxy answers 503 and sends nothing upstream).
    /// </summary>
    public Task RegisterAsync(LedgerIntent intent, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(intent);
        var committed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool lead;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            _queue.Add((intent, committed));
            lead = !_committing;
            _committing = true;
        }

        var done = lead ? LeadAsync(committed) : committed.Task;
        return ct.CanBeCanceled ? done.WaitAsync(ct) : done;
    }

    /// <summary>Waits for the commits under way, then refuses new intents.</summary>
    public async ValueTask DisposeAsync() => await StopAsync(Timeout.InfiniteTimeSpan);

    /// <summary>
    /// Refuses new intents and waits for the commits under way, at most <paramref name="timeout"/>: the write has no
    /// token (a cancelled Npgsql command cancels synchronously, npgsql/npgsql#5070), so a database that does not answer
    /// (a lock held elsewhere, a server gone) would otherwise hold the stop for as long as it does.
    /// </summary>
    /// <returns>How many intents were still being committed or queued when the wait gave up; 0 when all were done.</returns>
    internal async Task<int> StopAsync(TimeSpan timeout)
    {
        Task idle;
        lock (_gate)
        {
            _stopped = true;
            idle = _committing ? (_idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task : Task.CompletedTask;
        }

        try
        {
            await idle.WaitAsync(timeout, _time);
            return 0;
        }
        catch (TimeoutException)
        {
            lock (_gate)
            {
                return Volatile.Read(ref _inFlight) + _queue.Count;
            }
        }
    }

    /// <summary>Commits the queue (this request's intent first in it) on this thread, hands the next batch to a pool thread.</summary>
    private async Task LeadAsync(TaskCompletionSource own)
    {
        await CommitNextAsync();
        if (!own.Task.IsCompleted)
        {
            // Cannot happen (a request that leads finds its own intent in the first batch), but never leave it waiting.
            await DrainAsync();
        }
        else if (!ReleaseIfIdle())
        {
            _ = Task.Run(DrainAsync);
        }

        await own.Task;
    }

    private async Task DrainAsync()
    {
        do
        {
            await CommitNextAsync();
        }
        while (!ReleaseIfIdle());
    }

    /// <summary>Ends this round of commits when nothing is queued (true); false when more intents are waiting.</summary>
    private bool ReleaseIfIdle()
    {
        TaskCompletionSource? idle = null;
        lock (_gate)
        {
            if (_queue.Count > 0)
            {
                return false;
            }

            _committing = false;
            (idle, _idle) = (_idle, null);
        }

        idle?.TrySetResult();
        return true;
    }

    private void NoteBeat(DateTimeOffset at)
    {
        lock (_gate)
        {
            if (_lastBeat is not { } last || at > last)
            {
                _lastBeat = at;
            }
        }
    }

    private async Task CommitNextAsync()
    {
        List<(LedgerIntent Intent, TaskCompletionSource Committed)> batch;
        lock (_gate)
        {
            if (_queue.Count <= MaxBatchSize)
            {
                batch = _queue;
                _queue = [];
            }
            else
            {
                batch = _queue[..MaxBatchSize];
                _queue.RemoveRange(0, MaxBatchSize);
            }
        }

        if (batch.Count == 0)
        {
            return;
        }

        Volatile.Write(ref _inFlight, batch.Count);
        try
        {
            var now = _time.GetUtcNow();
            DateTimeOffset? beat;
            lock (_gate)
            {
                beat = _lastBeat is { } last && now - last < HeartbeatRefresh ? null : now;
            }

            await _store.WriteIntentsAsync(InstanceId, batch.ConvertAll(item => item.Intent), beat, CancellationToken.None);
            if (beat is { } at)
            {
                NoteBeat(at);
            }

            foreach (var (_, committed) in batch)
            {
                committed.TrySetResult();
            }
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // Nothing of the batch is durable: its requests fail (before anything was sent upstream).
            var failure = StoreFaults.IsTransient(exception) ? StoreFaults.Unavailable("ledger.intent", exception) : exception;
            foreach (var (_, committed) in batch)
            {
                committed.TrySetException(failure);
            }
        }
        finally
        {
            Volatile.Write(ref _inFlight, 0);
        }
    }
}
