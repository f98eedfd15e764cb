using System.Threading.Channels;
using ModelMix.Stores;

namespace ModelMix.Ledger;

/// <summary>
/// The attempt intent journal's writer (docs/ledger.md, "Crash consistency"): <see cref="RegisterAsync"/> queues an
/// intent and completes once it is committed; one background writer commits every intent queued meanwhile in one
/// transaction (group commit), so under load many requests share one durable write before their dispatch.
/// </summary>
public sealed class AttemptJournal : IAsyncDisposable
{
    /// <summary>The most intents committed in one transaction.</summary>
    public const int MaxBatchSize = 512;

    private readonly IAttemptJournalStore _store;
    private readonly TimeProvider _time;
    private readonly Channel<(LedgerIntent Intent, TaskCompletionSource Committed)> _channel =
        Channel.CreateUnbounded<(LedgerIntent, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });

    private readonly Task _writer;

    /// <summary>Starts the writer for <paramref name="instanceId"/> (this process) over a migrated store.</summary>
    public AttemptJournal(IAttemptJournalStore store, string instanceId, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        InstanceId = instanceId;
        _time = time;
        _writer = Task.Run(RunWriterAsync);
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
        if (!_channel.Writer.TryWrite((intent, committed)))
        {
            throw new ObjectDisposedException(nameof(AttemptJournal), "The attempt journal is stopped; no attempt may be sent.");
        }

        return ct.CanBeCanceled ? committed.Task.WaitAsync(ct) : committed.Task;
    }

    /// <summary>Stops the writer after committing what is queued.</summary>
    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _writer;
    }

    private async Task RunWriterAsync()
    {
        var reader = _channel.Reader;
        var intents = new List<LedgerIntent>(MaxBatchSize);
        var waiting = new List<TaskCompletionSource>(MaxBatchSize);
        while (await reader.WaitToReadAsync())
        {
            while (intents.Count < MaxBatchSize && reader.TryRead(out var item))
            {
                intents.Add(item.Intent);
                waiting.Add(item.Committed);
            }

            try
            {
                await _store.WriteIntentsAsync(InstanceId, intents, _time.GetUtcNow(), CancellationToken.None);
                foreach (var committed in waiting)
                {
                    committed.TrySetResult();
                }
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                // Nothing of the batch is durable: its requests fail (before anything was sent upstream).
                var failure = StoreFaults.IsTransient(exception) ? StoreFaults.Unavailable("ledger.intent", exception) : exception;
                foreach (var committed in waiting)
                {
                    committed.TrySetException(failure);
                }
            }

            intents.Clear();
            waiting.Clear();
        }
    }
}
