using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Budgets;

namespace ModelMix.Server;

/// <summary>
/// Every <see cref="BudgetSweepOptions.SweepInterval"/>, reclaims the budget holds whose reservation TTL has passed
/// (<see cref="IBudgetStore.ReconcileExpiredAsync"/>: charged what their request recorded in the ledger, or released),
/// so the money a crashed replica held comes back even when no request is refused. Reclaiming is idempotent, so every
/// replica may sweep; a failed sweep is logged and tried again at the next tick, never stopping the proxy.
/// </summary>
internal sealed partial class BudgetSweepService(IBudgetStore budgets, IOptions<BudgetSweepOptions> options, TimeProvider time, ILogger<BudgetSweepService> logger) : BackgroundService
{
    /// <summary>Sweeps once (what each tick does); exposed for tests.</summary>
    /// <returns>How many holds were reclaimed, or null when the sweep failed (logged).</returns>
    public async Task<int?> SweepOnceAsync(CancellationToken cancellationToken)
    {
        try
        {
            var reclaimed = await budgets.ReconcileExpiredAsync(time.GetUtcNow(), cancellationToken);
            if (reclaimed > 0)
            {
                Reclaimed(logger, reclaimed);
            }

            return reclaimed;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            Failed(logger, exception.GetType().Name, exception.Message, options.Value.SweepInterval);
            return null;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await SweepOnceAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The proxy is stopping.
        }
    }

    [LoggerMessage(110, LogLevel.Warning, "Budget sweep: reclaimed {Count} expired budget hold(s) left by a process that stopped without settling them.")]
    private static partial void Reclaimed(ILogger logger, int count);

    [LoggerMessage(111, LogLevel.Warning, "Budget sweep failed ({Error}: {Message}); it is tried again in {Interval}.")]
    private static partial void Failed(ILogger logger, string error, string message, TimeSpan interval);
}
