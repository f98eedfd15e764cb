using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Budgets;
using ModelMix.Ledger;

namespace ModelMix.Server;

/// <summary>
/// The proxy's budget leases (issue 29, <see cref="BudgetLeases"/>): on when <c>ModelMix:Budgets:LeaseSizeUsd</c> is set
/// and the budget store, the ledger and the attempt intent journal share one database (a leased request's records are
/// charged to its lease through their intents, so without the journal there is nothing to charge them by). Renews and
/// closes leases every third of <see cref="BudgetSweepOptions.LeaseTtl"/>, and closes them all when the proxy stops.
/// </summary>
internal sealed partial class BudgetLeaseService : BackgroundService
{
    private readonly TimeSpan _tick;
    private readonly TimeProvider _time;
    private readonly ILogger<BudgetLeaseService> _logger;

    public BudgetLeaseService(IBudgetStore store, ILedger ledger, ProxyIntents intents, IOptions<BudgetSweepOptions> options, IOptions<ProxyOptions> proxy, TimeProvider time, ILogger<BudgetLeaseService> logger, IHostApplicationLifetime lifetime)
    {
        _logger = logger;
        _time = time;
        var settings = options.Value;
        var ttl = settings.LeaseTtl < proxy.Value.ReservationTtl ? settings.LeaseTtl : proxy.Value.ReservationTtl;
        _tick = ttl / 3;
        if (!settings.LeasesEnabled)
        {
            return;
        }

        if (store is not IBudgetLeaseStore leaseStore || store is not (SqliteBudgetStore or Postgres.PostgresBudgetStore)
            || ledger is not ISettlingLedger { CanSettle: true } || !intents.Enabled || intents.Journal is null)
        {
            LeasesOff(logger);
            return;
        }

        Leases = new BudgetLeases(leaseStore, intents.Journal.InstanceId, settings.LeaseSizeUsd!.Value, settings.LeaseShare, ttl, time);
        lifetime.ApplicationStopped.Register(CloseAll);
    }

    /// <summary>The leases, when on.</summary>
    public BudgetLeases? Leases { get; }

    /// <summary>Registers the service.</summary>
    public static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<BudgetLeaseService>();
        services.AddHostedService(provider => provider.GetRequiredService<BudgetLeaseService>());
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Leases is not { } leases)
        {
            // Leases off: nothing to do, but a hosted service that ends on its own is a fault to the supervisor.
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
            }

            return;
        }

        using var timer = new PeriodicTimer(_tick, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await leases.MaintainAsync(stoppingToken);
                }
                catch (Exception exception) when (exception is not OutOfMemoryException and not OperationCanceledException)
                {
                    Failed(_logger, exception.GetType().Name, exception.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The proxy is stopping: CloseAll runs once it has stopped.
        }
    }

    /// <summary>Gives every slice back once the proxy has stopped (its requests are over); a failure leaves them to expire.</summary>
    private void CloseAll()
    {
        try
        {
            // Bounded: a stop never waits more than 10 s for the store (leases not closed expire and are swept).
            var closing = Leases!.CloseAllAsync(CancellationToken.None);
            if (Task.WhenAny(closing, Task.Delay(TimeSpan.FromSeconds(10))).GetAwaiter().GetResult() == closing)
            {
                closing.GetAwaiter().GetResult();
            }
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            Failed(_logger, exception.GetType().Name, exception.Message);
        }
    }

    [LoggerMessage(112, LogLevel.Warning, "Budget leases are off: ModelMix:Budgets:LeaseSizeUsd is set, but they need the built-in store for budgets and ledger alike and the attempt intent journal (ModelMix:Intents:Enabled); every budgeted request reserves on its own.")]
    private static partial void LeasesOff(ILogger logger);

    [LoggerMessage(113, LogLevel.Warning, "Budget lease upkeep failed ({Error}: {Message}); leases not renewed expire and are reclaimed by the sweep.")]
    private static partial void Failed(ILogger logger, string error, string message);
}
