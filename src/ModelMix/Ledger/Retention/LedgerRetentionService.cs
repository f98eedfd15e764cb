using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ModelMix.Ledger;

/// <summary>
/// Runs <see cref="LedgerRetention"/> in the background when <c>ModelMix:Ledger:Retention:Enabled</c> is true: first
/// <see cref="LedgerRetentionOptions.FirstRunDelay"/> after the start, then every <see cref="LedgerRetentionOptions.Interval"/>
/// on the host's <see cref="TimeProvider"/>. A failed run is logged (and counted) and tried again at the next tick; it
/// never stops the host. Registered by <c>AddModelMix</c> and by <c>modelmix serve</c> (which supervises it).
/// </summary>
internal sealed class LedgerRetentionService : BackgroundService
{
    private readonly ILedger _ledger;
    private readonly LedgerRetentionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<LedgerRetentionService> _logger;
    private readonly LedgerRetentionMetrics _metrics;
    private readonly SemaphoreSlim _running = new(1, 1);

    /// <summary>The service over <paramref name="ledger"/>'s store.</summary>
    /// <param name="ledger">The host's ledger.</param>
    /// <param name="options">The retention settings (validated at start).</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">Progress and failures.</param>
    /// <param name="metrics">The retention instruments.</param>
    public LedgerRetentionService(ILedger ledger, IOptions<LedgerRetentionOptions> options, TimeProvider time, ILogger<LedgerRetentionService> logger, LedgerRetentionMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(options);
        _ledger = ledger;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>Runs retention once now (what each tick does); null when it failed (logged) or retention is off.</summary>
    /// <param name="cancellationToken">Stops the run after its current page or batch.</param>
    public async Task<LedgerRetentionResult?> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        if (!_options.Enabled)
        {
            return null;
        }

        await _running.WaitAsync(cancellationToken);
        try
        {
            var retention = new LedgerRetention(_ledger.Store, _options, _time, _logger, _metrics);
            LedgerRetentionLog.Starting(_logger, LedgerExporter.FormatTimestamp(retention.CutAt(_time.GetUtcNow())), _options.RawAge, retention.Folder);
            return await retention.RunOnceAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            LedgerRetentionLog.Failed(_logger, exception, exception.GetType().Name, exception.Message, _options.Interval);
            return null;
        }
        finally
        {
            _running.Release();
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            if (!_options.Enabled)
            {
                LedgerRetentionLog.Off(_logger);
                await Task.Delay(Timeout.InfiniteTimeSpan, _time, stoppingToken); // nothing to do until the host stops
                return;
            }

            await Task.Delay(_options.FirstRunDelay, _time, stoppingToken);
            using var timer = new PeriodicTimer(_options.Interval, _time);
            do
            {
                await RunOnceAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping.
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _running.Dispose();
        base.Dispose();
    }
}

/// <summary>Registers <c>ModelMix:Ledger:Retention</c> and its hosted service, the same on both doors.</summary>
internal static class LedgerRetentionServices
{
    /// <summary>
    /// Binds <see cref="LedgerRetentionOptions"/> from <c>ModelMix:Ledger:Retention</c> (validated at start), and
    /// registers <see cref="LedgerRetentionMetrics"/> and <see cref="LedgerRetentionService"/> (which does nothing while
    /// <c>Enabled</c> is false). Needs an <see cref="ILedger"/> and a <see cref="TimeProvider"/>. Calling it again does nothing.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The configuration root (its <c>ModelMix:Ledger:Retention</c> section is read).</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddModelMixLedgerRetention(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (services.Any(d => d.ServiceType == typeof(LedgerRetentionService)))
        {
            return services;
        }

        services.AddOptions<LedgerRetentionOptions>().Bind(configuration.GetSection(LedgerRetentionOptions.SectionName)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<LedgerRetentionOptions>, LedgerRetentionOptions.Validator>();
        services.TryAddSingleton(provider => new LedgerRetentionMetrics(provider.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddSingleton<LedgerRetentionService>();
        services.AddHostedService(provider => provider.GetRequiredService<LedgerRetentionService>());
        return services;
    }
}
