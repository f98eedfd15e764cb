using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ModelMix.Server.Dashboard;

/// <summary>
/// Runs the dashboard's default view once, in the background, after the server has started
/// (<see cref="DashboardEndpoint.AuditAsync"/>): it computes every closed day of the view and keeps it in the store's day
/// cache, so the first page view reads them from the cache instead of computing them (docs/dashboard.md, "Freshness").
/// Costs one cold view's CPU per start (≈ 0.8–1.6 s at 10M PostgreSQL rows, docs/performance.md) and nothing after;
/// its result is exact for as long as the days' versions stay the same, like any view's. A failure is logged and changes
/// nothing (the first view then computes the days itself); a stop cancels it.
/// </summary>
internal sealed partial class DashboardWarmup(IServiceProvider services, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<DashboardWarmup> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _warm = Task.CompletedTask;
    private CancellationTokenRegistration _started;

    /// <summary>Completed when the warm-up has run (or failed, or was cancelled); for tests.</summary>
    internal Task Completion => _warm;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _started = lifetime.ApplicationStarted.Register(() => ready.TrySetResult());
        _warm = Task.Run(async () =>
        {
            using var cancel = _stopping.Token.Register(() => ready.TrySetCanceled());
            try
            {
                await ready.Task;
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
        }, CancellationToken.None); // its own stopping token: the start's token only bounds the start
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _warm.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose()
    {
        _started.Dispose();
        _stopping.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The dashboard's warm-up at start failed; the first view computes its days itself")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
