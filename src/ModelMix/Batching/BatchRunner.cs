using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Ledger;

namespace ModelMix.Batching;

/// <summary>
/// Runs a <see cref="Batcher"/> in the background of an app that uses the library door: on <see cref="Start"/> it
/// resumes unfinished batches, then submits queued calls, polls and collects until <see cref="StopAsync"/> (or
/// dispose). State is in the store, so a runner started later — another process, after a crash — carries on.
/// An unexpected failure of a pass is logged and the loop starts again after <see cref="RestartDelay"/>.
/// </summary>
public sealed partial class BatchRunner : IAsyncDisposable
{
    private readonly bool _ownsBatcher;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private CancellationTokenSource? _stopping;
    private Task? _loop;
    private bool _disposed;

    /// <summary>Creates a runner for <paramref name="batcher"/>.</summary>
    /// <param name="batcher">The batcher to run.</param>
    /// <param name="ownsBatcher">Whether disposing the runner disposes the batcher.</param>
    /// <param name="timeProvider">The clock of the restart delay; the system clock when null.</param>
    /// <param name="logger">Logs unexpected failures; nothing when null.</param>
    public BatchRunner(Batcher batcher, bool ownsBatcher = false, TimeProvider? timeProvider = null, ILogger<BatchRunner>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(batcher);
        Batcher = batcher;
        _ownsBatcher = ownsBatcher;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>The batcher it runs (give it to the batching stage, so a queued call wakes it).</summary>
    public Batcher Batcher { get; }

    /// <summary>How long the loop waits before starting again after an unexpected failure.</summary>
    public TimeSpan RestartDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether the loop is running.</summary>
    public bool IsRunning
    {
        get
        {
            lock (_gate)
            {
                return _loop is { IsCompleted: false };
            }
        }
    }

    /// <summary>
    /// A runner over a new <see cref="Batcher"/> (owned by the runner), for the common case: the queue, the Message
    /// Batches client and the ledger's recorder.
    /// </summary>
    /// <param name="store">The batch queue.</param>
    /// <param name="api">The Message Batches API (with the upstream key).</param>
    /// <param name="recorder">Records each result in the ledger at the batch price.</param>
    /// <param name="options">Batch sizes and poll intervals; the defaults when null.</param>
    /// <param name="timeProvider">The clock; the system clock when null.</param>
    /// <param name="loggerFactory">Logs; nothing when null.</param>
    /// <returns>The runner, not started.</returns>
    public static BatchRunner Create(IBatchStore store, MessageBatchesClient api, AttemptRecorder recorder, BatcherOptions? options = null, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        loggerFactory ??= NullLoggerFactory.Instance;
        var batcher = new Batcher(store, api, recorder, options ?? new BatcherOptions(), timeProvider ?? TimeProvider.System, loggerFactory.CreateLogger<Batcher>());
        return new BatchRunner(batcher, ownsBatcher: true, timeProvider, loggerFactory.CreateLogger<BatchRunner>());
    }

    /// <summary>Starts the loop on the thread pool; starting a running runner does nothing.</summary>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_loop is { IsCompleted: false })
            {
                return;
            }

            _stopping?.Dispose();
            _stopping = new CancellationTokenSource();
            var token = _stopping.Token;
            _loop = Task.Run(() => LoopAsync(token), CancellationToken.None);
        }
    }

    /// <summary>Stops the loop and waits for the pass in progress to end (what it started stays consistent in the store).</summary>
    public async Task StopAsync()
    {
        Task? loop;
        lock (_gate)
        {
            loop = _loop;
            _stopping?.Cancel();
        }

        if (loop is not null)
        {
            await loop.ConfigureAwait(false);
        }
    }

    /// <summary>Stops the loop; disposes the batcher when the runner owns it.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _stopping?.Dispose();
        }

        if (_ownsBatcher)
        {
            Batcher.Dispose();
        }
    }

    private async Task LoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Batcher.RunAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                LogLoopFailed(_logger, exception, RestartDelay);
                try
                {
                    await Task.Delay(RestartDelay, _time, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(EventId = 5611, Level = LogLevel.Error, Message = "The batcher stopped on an unexpected failure; it starts again in {Delay}")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception, TimeSpan delay);
}
