using Microsoft.Extensions.Logging;

namespace ModelMix.Batching;

/// <summary>
/// Runs a <see cref="Batcher"/> on one of several processes sharing a store: each process calls
/// <see cref="RunAsync"/>; the one that holds the store's lease runs the batcher (reconciling first, as after a
/// restart), the others try again every <see cref="BatcherOptions.LeaderCheckInterval"/>. The working one checks its
/// lease as often and stops its batcher as soon as the lease is in doubt, so two batchers never work at once.
/// </summary>
internal static partial class BatcherLeadership
{
    /// <summary>Works or stands by until <paramref name="cancellationToken"/> fires; then releases the lease.</summary>
    public static async Task RunAsync(Batcher batcher, IBatchLeadership leadership, TimeSpan checkInterval, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batcher);
        ArgumentNullException.ThrowIfNull(leadership);
        ArgumentNullException.ThrowIfNull(logger);
        if (checkInterval <= TimeSpan.Zero)
        {
            checkInterval = TimeSpan.FromSeconds(5);
        }

        var standingBy = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            IBatchLease? lease;
            try
            {
                lease = await leadership.TryAcquireAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (exception is not OutOfMemoryException and not OperationCanceledException)
            {
                LogAcquireFailed(logger, exception);
                lease = null;
            }

            if (lease is null)
            {
                if (!standingBy)
                {
                    LogStandingBy(logger);
                    standingBy = true;
                }

                await DelayAsync(checkInterval, cancellationToken);
                continue;
            }

            standingBy = false;
            LogLeading(logger);
            var failed = false;
            await using (lease)
            {
                using var working = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var run = Task.Run(() => batcher.RunAsync(working.Token), CancellationToken.None);
                while (!run.IsCompleted)
                {
                    await Task.WhenAny(run, Task.Delay(checkInterval, working.Token));
                    if (run.IsCompleted || cancellationToken.IsCancellationRequested)
                    {
                        break;
                    }

                    if (!await lease.IsHeldAsync(CancellationToken.None)) // bounded by its own command timeout
                    {
                        LogLeaseLost(logger);
                        break;
                    }
                }

                await working.CancelAsync();
                try
                {
                    await run;
                }
                catch (OperationCanceledException) when (working.IsCancellationRequested)
                {
                }
                catch (Exception exception) when (exception is not OutOfMemoryException and not OperationCanceledException)
                {
                    // E.g. the database went away mid-pass: give the lease up, and try again after a pause.
                    LogRunFailed(logger, exception);
                    failed = true;
                }
            }

            if (failed)
            {
                await DelayAsync(checkInterval, cancellationToken);
            }
        }
    }

    private static async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "This replica's batcher is standing by: another replica's batcher holds the batch lease")]
    private static partial void LogStandingBy(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "This replica's batcher holds the batch lease and is working")]
    private static partial void LogLeading(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The batch lease may have been lost (its database session did not answer); this replica's batcher stops")]
    private static partial void LogLeaseLost(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Taking the batch lease failed; trying again")]
    private static partial void LogAcquireFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The batcher stopped with an error; its lease is released and it tries again")]
    private static partial void LogRunFailed(ILogger logger, Exception exception);
}
