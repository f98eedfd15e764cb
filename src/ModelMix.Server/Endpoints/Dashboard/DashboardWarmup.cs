using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ModelMix.Server.Dashboard;

/// <summary>
/// Runs the dashboard's default view once, in the background, after the server has started
/// (<see cref="DashboardEndpoint.AuditAsync"/>): it computes every closed day of the view and keeps it in the store's day
/// cache, so the first page view reads them from the cache instead of computing them (docs/dashboard.md, "Freshness").
/// Costs one cold view's CPU per start (≈ 0.5–0.7 s at 10M rows on a quiet host, docs/performance.md) and nothing after;
/// its result is exact for as long as the days' versions stay the same, like any view's. A failure is logged and changes
/// nothing (the first view then computes the days itself); a stop cancels it.
/// </summary>
internal sealed partial class DashboardWarmup(IServiceProvider services, TimeProvider time, ILogger<DashboardWarmup> logger) : IHostedLifecycleService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _warm = Task.CompletedTask;

    /// <summary>Completed when the warm-up has run (or failed, or was cancelled); for tests.</summary>
    internal Task Completion => _warm;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Once every hosted service has started (the server listens): the view, in the background.</summary>
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        _warm = Task.Run(WarmAsync, CancellationToken.None); // its own stopping token: the start's token only bounds the start
        return Task.CompletedTask;
    }

    private async Task WarmAsync()
    {
        try
        {
            await DashboardEndpoint.AuditAsync(services, time.GetUtcNow(), DashboardEndpoint.DefaultDays, _stopping.Token);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // stopped before it finished: the first view computes the days itself
        }
        catch (Exception exception)
        {
            LogFailed(logger, exception);
        }
    }

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _warm.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _stopping.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "The dashboard's warm-up at start failed; the first view computes its days itself")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
