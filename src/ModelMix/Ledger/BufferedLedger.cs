using System.ComponentModel;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ModelMix.Ledger;

/// <summary>
/// The ledger the pipeline writes to: <see cref="RecordAsync"/> puts a record in a bounded in-memory buffer and
/// returns; one background writer commits the buffer to the <see cref="ILedgerStore"/> in batches of up to
/// <see cref="LedgerOptions.MaxBatchSize"/>, at most about <see cref="LedgerOptions.FlushInterval"/> after a batch's
/// first record was recorded. Nothing is dropped: a full buffer makes callers wait, a failed commit is logged and
/// retried with backoff until it succeeds, and <see cref="DisposeAsync"/> commits everything still buffered.
/// </summary>
/// <remarks>
/// Durability: a record is on disk once <see cref="FlushAsync"/> returns, or at most about one flush interval after
/// it was recorded; a process kill can lose only what was recorded in that window. A store passed to the constructor
/// is not disposed by the ledger; the store created by <c>OpenSqliteAsync</c> (package <c>ModelMix.Sqlite</c>) or <see cref="OpenAsync"/> is.
/// </remarks>
public sealed class BufferedLedger : ILedger, ISettlingLedger
{
    private readonly Channel<Entry> _channel;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _flushInterval;
    private readonly int _maxBatchSize;
    private readonly int _capacity;
    private readonly TimeSpan _retryBaseDelay;
    private readonly TimeSpan _retryMaxDelay;
    private readonly TimeSpan _stopTimeout;
    private readonly bool _ownsStore;
    private readonly Task _writer;
    private readonly Lock _disposeLock = new();
    private Task? _disposal;
    private long _stopStarted = long.MinValue; // the clock's timestamp at the stop's first step (FlushBeforeStopAsync or DisposeAsync)

    // The writer waits out the flush interval without waking per record; these wake it early. Counters go up after an
    // entry is in the channel and down when the writer takes it, so a positive count means entries are there to take.
    private int _pending;        // records in the channel
    private int _flushes;        // flush requests in the channel
    private volatile bool _disposing;
    private volatile bool _abandoned; // the stop gave up waiting for the writer: it retries no more
    private int _committingRecords;   // the records (and settlements) of the commit under way
    private int _committingSettlements;
    private int _queuedSettlements;   // settlements in the channel
    private TaskCompletionSource? _wake;

    /// <summary>Starts a ledger that commits to <paramref name="store"/>, which must already be migrated.</summary>
    /// <param name="store">Where records are committed; not disposed by the ledger.</param>
    /// <param name="options">Buffer size, flush interval, batch size and retry delays; validated here.</param>
    /// <param name="timeProvider">The clock for the flush interval and retry delays.</param>
    /// <param name="logger">Receives commit failures and retries.</param>
    public BufferedLedger(ILedgerStore store, LedgerOptions options, TimeProvider timeProvider, ILogger<BufferedLedger> logger)
        : this(store, options, timeProvider, logger, ownsStore: false)
    {
    }

    private BufferedLedger(ILedgerStore store, LedgerOptions options, TimeProvider timeProvider, ILogger logger, bool ownsStore)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        LedgerOptionsValidator.ThrowIfInvalid(options);
        Store = store;
        _time = timeProvider;
        _logger = logger;
        _flushInterval = options.FlushInterval;
        _maxBatchSize = options.MaxBatchSize;
        _capacity = options.Capacity;
        _retryBaseDelay = options.RetryBaseDelay;
        _retryMaxDelay = options.RetryMaxDelay;
        _stopTimeout = options.StopTimeout;
        _ownsStore = ownsStore;
        // Stryker disable once Initializer : equivalent (docs/testing.md, ledger, first half): FullMode's default is Wait; a bounded channel has one implementation whatever SingleReader and SingleWriter say
        _channel = Channel.CreateBounded<Entry>(new BoundedChannelOptions(options.Capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            // Stryker disable once Boolean : equivalent (docs/testing.md, ledger, first half): a bounded channel has one implementation whatever the flag says
            SingleReader = true,
            // Stryker disable once Boolean : equivalent (docs/testing.md, ledger, first half): a bounded channel has one implementation whatever the flag says
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
        _writer = Task.Run(RunWriterAsync);
    }

    /// <inheritdoc />
    public ILedgerStore Store { get; }

    /// <summary>
    /// Opens the ledger of a store setting (a SQLite path or a PostgreSQL URL / connection string, see
    /// <see cref="Stores.StoreLocation"/>), migrates it and starts the writer. Disposing the returned ledger flushes
    /// it and closes the store.
    /// </summary>
    /// <param name="store">The store setting, e.g. <c>modelmix.db</c> or <c>postgres://user:pass@host:5432/modelmix</c>.</param>
    /// <param name="options">Writer options; the defaults when <c>null</c>.</param>
    /// <param name="time">The clock; <see cref="TimeProvider.System"/> when <c>null</c>.</param>
    /// <param name="loggers">Creates the loggers; nothing is logged when <c>null</c>.</param>
    /// <param name="ct">Cancels opening and migrating.</param>
    public static async Task<BufferedLedger> OpenAsync(
        string store,
        LedgerOptions? options = null,
        TimeProvider? time = null,
        ILoggerFactory? loggers = null,
        CancellationToken ct = default)
    {
        options ??= new LedgerOptions();
        LedgerOptionsValidator.ThrowIfInvalid(options);
        return await OpenOwnedAsync(Stores.StoreLocation.Parse(store).CreateLedgerStore(loggers), options, time, loggers, ct);
    }

    /// <summary>Migrates <paramref name="ledgerStore"/> and starts a ledger that owns it (disposes it on failure, and when disposed).</summary>
    internal static async Task<BufferedLedger> OpenOwnedAsync(ILedgerStore ledgerStore, LedgerOptions? options, TimeProvider? time, ILoggerFactory? loggers, CancellationToken ct)
    {
        options ??= new LedgerOptions();
        try
        {
            LedgerOptionsValidator.ThrowIfInvalid(options);
            await ledgerStore.MigrateAsync(ct);
            ILogger logger = loggers?.CreateLogger<BufferedLedger>() ?? (ILogger)NullLogger.Instance;
            return new BufferedLedger(ledgerStore, options, time ?? TimeProvider.System, logger, ownsStore: true);
        }
        catch
        {
            await ledgerStore.DisposeAsync();
            throw;
        }
    }

    /// <inheritdoc />
    public ValueTask RecordAsync(LedgerRecord record, CancellationToken ct = default)
    {
        // A record the store would refuse is refused here: once buffered, a record is retried until committed.
        LedgerRecordRules.Validate(record, nameof(record));
        var entry = new Entry(record, _time.GetTimestamp(), null, null);
        if (!_channel.Writer.TryWrite(entry))
        {
            return WriteSlowAsync(entry, ct);
        }

        Written();
        return default;
    }

    /// <summary>
    /// Counts a record written to the channel; a full batch's worth wakes the writer, and so does a full buffer (a
    /// <see cref="LedgerOptions.Capacity"/> below <see cref="LedgerOptions.MaxBatchSize"/> never holds a batch's worth:
    /// its callers would otherwise wait for room until the interval is up).
    /// </summary>
    private void Written()
    {
        var pending = Interlocked.Increment(ref _pending);
        if (pending >= _maxBatchSize || pending >= _capacity)
        {
            Wake();
        }
    }

    private void Wake() => Volatile.Read(ref _wake)?.TrySetResult();

    /// <inheritdoc />
    public async Task FlushAsync(CancellationToken ct = default)
    {
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await _channel.Writer.WriteAsync(new Entry(null, 0, flushed, null), ct);
            Interlocked.Increment(ref _flushes);
            Wake();
        }
        catch (ChannelClosedException)
        {
            // Disposing: the writer is committing everything that was recorded; wait for it.
            await _writer.WaitAsync(ct);
            return;
        }

        await flushed.Task.WaitAsync(ct);
    }

    /// <summary>
    /// A host's first stop step: commits what is buffered, as <see cref="FlushAsync"/>, but waits at most
    /// <see cref="LedgerOptions.StopTimeout"/>, counted from the stop's first step (this or <see cref="DisposeAsync"/>),
    /// so a flush then a disposal wait one <c>StopTimeout</c> in all, never one each. Past it, returns without throwing:
    /// the disposal that follows waits no longer and logs what was not committed (event 4006). Likewise when
    /// <paramref name="ct"/> (the host's shutdown timeout) has ended, before or during the flush: the disposal commits
    /// what is buffered within what is left of the <c>StopTimeout</c>. A throw here failed the host's stop, and
    /// <c>modelmix serve</c> exited with an unhandled <see cref="OperationCanceledException"/> after a long request had
    /// used up the shutdown timeout.
    /// </summary>
    internal async Task FlushBeforeStopAsync(CancellationToken ct)
    {
        try
        {
            await FlushAsync(ct).WaitAsync(StopTimeRemaining(), _time, ct);
        }
        catch (TimeoutException)
        {
            // the store did not take the records in time: DisposeAsync says how many, at once
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // the host's shutdown timeout has ended: DisposeAsync commits the rest, within the StopTimeout
        }
    }

    /// <summary>What is left of <see cref="LedgerOptions.StopTimeout"/> since the stop's first step (which this may be).</summary>
    private TimeSpan StopTimeRemaining()
    {
        var now = _time.GetTimestamp();
        var started = Interlocked.CompareExchange(ref _stopStarted, now, long.MinValue);
        if (started == long.MinValue)
        {
            return _stopTimeout;
        }

        var left = _stopTimeout - _time.GetElapsedTime(started, now);
        // Stryker disable once Equality : equivalent (docs/testing.md, ledger, first half): `>` → `>=` at zero both return zero; also drops `>` → `<`, which BufferedLedgerFrontSurvivorTests kills
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>Whether the store under the ledger can settle budget reservations (an <see cref="IAttemptJournalStore"/>).</summary>
    [Obsolete(SettlingIsInternal)]
    [EditorBrowsable(EditorBrowsableState.Never)]
    public bool CanSettle => ((ISettlingLedger)this).CanSettle;

    /// <summary>Queues a budget settlement behind the records queued before it and completes once its batch is committed.</summary>
    /// <param name="settlement">The reservation to settle and the request whose recorded cost it is charged.</param>
    /// <param name="ct">Stops the wait (not the settlement once queued).</param>
    [Obsolete(SettlingIsInternal)]
    [EditorBrowsable(EditorBrowsableState.Never)]
    public Task SettleAsync(ReservationSettlement settlement, CancellationToken ct = default) => ((ISettlingLedger)this).SettleAsync(settlement, ct);

    /// <summary>Why the two public settling members are obsolete: they are the proxy's budget plumbing (<see cref="ISettlingLedger"/>).</summary>
    private const string SettlingIsInternal =
        "Budget settlement through the ledger is ModelMix's own plumbing (the proxy's budget holds), not an API; this member goes in the next release.";

    /// <inheritdoc />
    bool ISettlingLedger.CanSettle => Store is IAttemptJournalStore;

    /// <inheritdoc />
    async Task ISettlingLedger.SettleAsync(ReservationSettlement settlement, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(settlement);
        if (Store is not IAttemptJournalStore)
        {
            throw new InvalidOperationException($"The ledger store {Store.GetType().Name} cannot settle budget reservations.");
        }

        var settled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await _channel.Writer.WriteAsync(new Entry(null, 0, settled, settlement), ct);
            Interlocked.Increment(ref _queuedSettlements);
        }
        catch (ChannelClosedException ex)
        {
            throw new ObjectDisposedException($"The ledger is disposed; the reservation '{settlement.ReservationId}' was not settled through it.", ex);
        }

        // Like a flush request: the writer commits what it holds now instead of waiting out the flush interval.
        Interlocked.Increment(ref _flushes);
        Wake();
        await settled.Task.WaitAsync(ct);
    }

    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRecord> ReadAsync(LedgerQuery query, CancellationToken ct = default) =>
        Store.ReadAsync(query, ct);

    /// <inheritdoc />
    public Task<LedgerTotals> GetTotalsAsync(LedgerQuery query, CancellationToken ct = default) =>
        Store.GetTotalsAsync(query, ct);

    /// <summary>
    /// Stops accepting records, commits everything already recorded (retrying a failing store until it succeeds),
    /// then disposes the store if this ledger opened it. Safe to call more than once.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        lock (_disposeLock)
        {
            _disposal ??= DisposeCoreAsync();
            return new ValueTask(_disposal);
        }
    }

    private async Task DisposeCoreAsync()
    {
        _disposing = true;
        _channel.Writer.TryComplete();
        Wake();
        var stopped = false;
        try
        {
            // Bounded: a store that does not answer (a lock held by another connection, a server gone) must not hang
            // the stop. No token reaches the store's commands (a cancelled Npgsql command cancels synchronously, which
            // can hang: npgsql/npgsql#5070); the commit under way is left to run out in the background instead.
            await _writer.WaitAsync(StopTimeRemaining(), _time);
            stopped = true;
        }
        catch (TimeoutException)
        {
            _abandoned = true;
            LedgerLog.StopAbandoned(
                _logger,
                Volatile.Read(ref _committingRecords) + Math.Max(0, Volatile.Read(ref _pending)),
                Volatile.Read(ref _committingSettlements) + Math.Max(0, Volatile.Read(ref _queuedSettlements)),
                _stopTimeout);
        }
        finally
        {
            if (_ownsStore && stopped)
            {
                await Store.DisposeAsync(); // not under a commit that never ended: that could hang as well
            }
        }
    }

    private async ValueTask WriteSlowAsync(Entry entry, CancellationToken ct)
    {
        try
        {
            await _channel.Writer.WriteAsync(entry, ct);
            Written();
        }
        catch (ChannelClosedException ex)
        {
            throw new ObjectDisposedException($"The ledger is disposed or its writer has stopped; the record '{entry.Record!.Id}' was not recorded.", ex);
        }
    }

    private async Task RunWriterAsync()
    {
        var reader = _channel.Reader;
        var batch = new List<LedgerRecord>(_maxBatchSize);
        var flushes = new List<TaskCompletionSource>();
        var settlements = new List<ReservationSettlement>();
        try
        {
            while (await reader.WaitToReadAsync())
            {
                await FillBatchAsync(reader, batch, flushes, settlements);
                if (batch.Count > 0 || settlements.Count > 0)
                {
                    await CommitAsync(batch, settlements);
                    batch.Clear();
                    settlements.Clear();
                }

                foreach (var flush in flushes)
                {
                    flush.TrySetResult();
                }

                // Stryker disable once Statement : equivalent (docs/testing.md, ledger, second half): a flush completed again is a no-op (TrySetResult, and TrySetException if the writer faults), so an uncleared list costs memory only
                flushes.Clear();
            }
        }
        catch (Exception ex)
        {
            // Only a broken store (e.g. disposed under the ledger) gets here. Fail loudly, never silently.
            var lost = batch.Count;
            _channel.Writer.TryComplete(ex);
            while (reader.TryRead(out var entry))
            {
                if (entry.Record is not null)
                {
                    lost++;
                }

                entry.Flush?.TrySetException(ex);
            }

            foreach (var flush in flushes)
            {
                flush.TrySetException(ex);
            }

            LedgerLog.WriterFaulted(_logger, ex, lost);
            throw;
        }
    }

    /// <summary>
    /// Reads entries into <paramref name="batch"/> until it is full, a flush is requested, the ledger is disposed, or
    /// the flush interval has passed since its first record was recorded (the writer's loop ends when
    /// <see cref="ChannelReader{T}.WaitToReadAsync"/> says the channel is completed and drained). In between it
    /// sleeps until the interval is up: records arriving meanwhile do not wake it (at thousands of records a second a
    /// wake per record cost a thread-pool hand-off, a timer and a token source each); only a full batch's worth (or a
    /// full buffer, when it is smaller), a flush request or disposal does.
    /// </summary>
    private async ValueTask FillBatchAsync(ChannelReader<Entry> reader, List<LedgerRecord> batch, List<TaskCompletionSource> flushes, List<ReservationSettlement> settlements)
    {
        long firstRecordedAt = 0;
        while (true)
        {
            while (batch.Count < _maxBatchSize && reader.TryRead(out var entry))
            {
                if (entry.Settlement is not null)
                {
                    // Settlements commit at once (their requests wait), with whatever else is already queued behind
                    // them: under load, many requests' records and settlements share one transaction.
                    Interlocked.Decrement(ref _flushes);
                    Interlocked.Decrement(ref _queuedSettlements);
                    flushes.Add(entry.Flush!);
                    settlements.Add(entry.Settlement);
                    continue;
                }

                if (entry.Flush is not null)
                {
                    Interlocked.Decrement(ref _flushes);
                    flushes.Add(entry.Flush);
                    return;
                }

                Interlocked.Decrement(ref _pending);
                if (batch.Count == 0)
                {
                    firstRecordedAt = entry.RecordedAt;
                }

                batch.Add(entry.Record!);
            }

            if (batch.Count == 0 || batch.Count >= _maxBatchSize || _disposing || settlements.Count > 0)
            {
                return;
            }

            var remaining = _flushInterval - _time.GetElapsedTime(firstRecordedAt);
            if (remaining <= TimeSpan.Zero)
            {
                return;
            }

            var wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref _wake, wake);

            // What arrived before the signal was armed did not see it: look again now that it is.
            if (Volatile.Read(ref _flushes) > 0 || Volatile.Read(ref _pending) >= Math.Min(_maxBatchSize - batch.Count, _capacity) || _disposing)
            {
                continue;
            }

            using var stop = new CancellationTokenSource();
            var due = Task.Delay(remaining, _time, stop.Token);

            // The clock may have moved between reading it and arming the timer (a timer armed late would wait a
            // whole extra interval): look again now that the timer is armed.
            if (_time.GetElapsedTime(firstRecordedAt) >= _flushInterval)
            {
                await stop.CancelAsync();
                // Stryker disable once Statement : equivalent (docs/testing.md, ledger, second half): without it the cancelled delay completes WhenAny at once and the loop comes round the same way
                continue;
            }

            await Task.WhenAny(wake.Task, due);
            await stop.CancelAsync();
        }
    }

    private async Task CommitAsync(List<LedgerRecord> batch, List<ReservationSettlement> settlements)
    {
        Volatile.Write(ref _committingRecords, batch.Count);
        Volatile.Write(ref _committingSettlements, settlements.Count);
        try
        {
            await CommitWithRetriesAsync(batch, settlements);
        }
        finally
        {
            Volatile.Write(ref _committingRecords, 0);
            Volatile.Write(ref _committingSettlements, 0);
        }
    }

    private async Task CommitWithRetriesAsync(List<LedgerRecord> batch, List<ReservationSettlement> settlements)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (settlements.Count > 0)
                {
                    await ((IAttemptJournalStore)Store).CommitAsync(batch, settlements, CancellationToken.None);
                }
                else
                {
                    await Store.WriteBatchAsync(batch, CancellationToken.None);
                }

                if (attempt > 1)
                {
                    LedgerLog.WriteRecovered(_logger, batch.Count, attempt);
                }

                return;
            }
            catch (Exception ex) when (ex is not ObjectDisposedException && !_abandoned)
            {
                var delay = RetryDelay(attempt);
                LedgerLog.WriteFailed(_logger, ex, batch.Count, attempt, delay);
                await Task.Delay(delay, _time);
            }
        }
    }

    private TimeSpan RetryDelay(int attempt)
    {
        var factor = Math.Pow(2, Math.Min(attempt - 1, 30));
        var delay = TimeSpan.FromTicks((long)Math.Min(_retryBaseDelay.Ticks * factor, _retryMaxDelay.Ticks));
        return delay;
    }

    /// <summary>A buffered record (with the clock reading when it was recorded), a flush request, or a settlement (with its completion in <see cref="Flush"/>).</summary>
    private readonly record struct Entry(LedgerRecord? Record, long RecordedAt, TaskCompletionSource? Flush, ReservationSettlement? Settlement);
}
