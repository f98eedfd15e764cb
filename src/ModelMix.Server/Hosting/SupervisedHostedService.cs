using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ModelMix.Server;

/// <summary>
/// Runs one of the proxy's hosted services under supervision (<see cref="SupervisionServices.AddHostedServiceSupervision"/>
/// wraps every one the proxy registers):
/// <list type="bullet">
/// <item>its start is the host's: a failure to start (bad configuration, a store that cannot be migrated) fails the
/// start, and <c>modelmix serve</c> exits with code 1 and the error;</item>
/// <item>the background work of a <see cref="BackgroundService"/> (the batcher, the budget sweep) is watched: when it
/// throws, or ends without being asked to stop, that is logged at Error with the service's name and the service is
/// started again after a back-off of <see cref="FirstRestartDelay"/> doubling to <see cref="MaxRestartDelay"/> (reset
/// once a run lasted that long), on the <see cref="TimeProvider"/> so tests control it. It is never given up on: no
/// background service is needed to serve requests, so none may stop the proxy, and none ends silently.</item>
/// </list>
/// The host never sees the background work (this wrapper is not a <see cref="BackgroundService"/>), so
/// <see cref="HostOptions.BackgroundServiceExceptionBehavior"/> — set to <see cref="BackgroundServiceExceptionBehavior.Ignore"/>
/// anyway — can never stop the host with exit code 0 on a crash, as its default <c>StopHost</c> did (.NET 10 exits 0).
/// </summary>
internal sealed partial class SupervisedHostedService : IHostedLifecycleService, IAsyncDisposable
{
    /// <summary>The wait before the first restart.</summary>
    public static readonly TimeSpan FirstRestartDelay = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between restarts; a run that lasted this long resets the back-off.</summary>
    public static readonly TimeSpan MaxRestartDelay = TimeSpan.FromSeconds(60);

    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly bool _ownsInner;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _gate = new(1, 1); // a restart and a stop never interleave
    private Task? _supervision;
    private int _restarts;

    /// <summary>Supervises <paramref name="inner"/>.</summary>
    /// <param name="inner">The hosted service.</param>
    /// <param name="time">The clock of the back-off.</param>
    /// <param name="logger">Where failures and restarts are logged.</param>
    /// <param name="ownsInner">Whether disposing this disposes <paramref name="inner"/> (it was created for this wrapper, not by the container).</param>
    public SupervisedHostedService(IHostedService inner, TimeProvider time, ILogger<SupervisedHostedService> logger, bool ownsInner = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Inner = inner;
        _time = time ?? TimeProvider.System;
        _logger = logger;
        _ownsInner = ownsInner;
        Name = inner.GetType().Name;
    }

    /// <summary>The supervised service.</summary>
    public IHostedService Inner { get; }

    /// <summary>The service's name in the log (its type name).</summary>
    public string Name { get; }

    /// <summary>How many times it was started again.</summary>
    public int Restarts => Volatile.Read(ref _restarts);

    /// <summary>The wait before restart number <paramref name="failures"/> in a row: 1 s, 2 s, 4 s … at most 60 s.</summary>
    public static TimeSpan RestartDelay(int failures)
    {
        var doublings = Math.Clamp(failures - 1, 0, 30);
        var ticks = FirstRestartDelay.Ticks * Math.Pow(2, doublings);
        return ticks >= MaxRestartDelay.Ticks ? MaxRestartDelay : TimeSpan.FromTicks((long)ticks);
    }

    /// <inheritdoc />
    public Task StartingAsync(CancellationToken cancellationToken) => Inner is IHostedLifecycleService lifecycle ? lifecycle.StartingAsync(cancellationToken) : Task.CompletedTask;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await Inner.StartAsync(cancellationToken); // a failure here fails the start, as without supervision
        if (Inner is BackgroundService background)
        {
            _supervision = Task.Run(() => SuperviseAsync(background, _stopping.Token), CancellationToken.None);
        }
    }

    /// <inheritdoc />
    public Task StartedAsync(CancellationToken cancellationToken) => Inner is IHostedLifecycleService lifecycle ? lifecycle.StartedAsync(cancellationToken) : Task.CompletedTask;

    /// <inheritdoc />
    public Task StoppingAsync(CancellationToken cancellationToken) => Inner is IHostedLifecycleService lifecycle ? lifecycle.StoppingAsync(cancellationToken) : Task.CompletedTask;

    /// <summary>
    /// Stops the service. Each stop is logged at Debug (which service, whether the host's shutdown timeout had already
    /// ended, how long it took), so a stop that never ends shows which service it is in; one still running when the
    /// host's shutdown timeout (<paramref name="cancellationToken"/>) ends is logged at Warning at that moment.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        LogStopping(_logger, Name, cancellationToken.IsCancellationRequested);
        using var overdue = cancellationToken.IsCancellationRequested
            ? default
            : cancellationToken.Register(() => LogStopOverdue(_logger, Name, System.Diagnostics.Stopwatch.GetElapsedTime(started)));
        await _stopping.CancelAsync(); // no restart from now on
        await _gate.WaitAsync(CancellationToken.None); // a restart under way finishes first, so it is stopped too
        try
        {
            await Inner.StopAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }

        if (_supervision is { } supervision)
        {
            await supervision.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        LogStopped(_logger, Name, System.Diagnostics.Stopwatch.GetElapsedTime(started));
    }

    /// <inheritdoc />
    public Task StoppedAsync(CancellationToken cancellationToken) => Inner is IHostedLifecycleService lifecycle ? lifecycle.StoppedAsync(cancellationToken) : Task.CompletedTask;

    /// <summary>Stops supervising; disposes the service when it was created for this wrapper.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_ownsInner)
        {
            switch (Inner)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync();
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }

        _stopping.Dispose();
        _gate.Dispose();
    }

    private async Task SuperviseAsync(BackgroundService service, CancellationToken stopping)
    {
        var failures = 0;
        while (true)
        {
            var started = _time.GetTimestamp();
            Exception? error = null;
            try
            {
                await (service.ExecuteTask ?? Task.CompletedTask);
            }
            catch (Exception exception)
            {
                error = exception;
            }

            if (stopping.IsCancellationRequested)
            {
                return; // asked to stop: however it ended is fine
            }

            if (_time.GetElapsedTime(started) >= MaxRestartDelay)
            {
                failures = 0; // it ran well for a while: start the back-off over
            }

            failures++;
            var delay = RestartDelay(failures);
            if (error is null)
            {
                LogEndedEarly(_logger, Name, delay);
            }
            else
            {
                LogFailed(_logger, error, Name, failures, delay);
            }

            try
            {
                await Task.Delay(delay, _time, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            await _gate.WaitAsync(CancellationToken.None);
            try
            {
                if (stopping.IsCancellationRequested)
                {
                    return;
                }

                await service.StartAsync(CancellationToken.None);
                Interlocked.Increment(ref _restarts);
                LogRestarted(_logger, Name, failures);
            }
            catch (Exception exception)
            {
                // Its start failed too: counted as the next failure (its old, ended run is awaited again at once).
                LogFailed(_logger, exception, Name, failures, delay);
            }
            finally
            {
                _gate.Release();
            }
        }
    }

    [LoggerMessage(EventId = 5701, Level = LogLevel.Error, Message = "Hosted service {Service} failed (failure {Failures} in a row); it is started again in {Delay}")]
    private static partial void LogFailed(ILogger logger, Exception exception, string service, int failures, TimeSpan delay);

    [LoggerMessage(EventId = 5702, Level = LogLevel.Error, Message = "Hosted service {Service} ended without being asked to stop; it is started again in {Delay}")]
    private static partial void LogEndedEarly(ILogger logger, string service, TimeSpan delay);

    [LoggerMessage(EventId = 5703, Level = LogLevel.Warning, Message = "Hosted service {Service} started again after {Failures} failure(s) in a row")]
    private static partial void LogRestarted(ILogger logger, string service, int failures);

    [LoggerMessage(EventId = 5704, Level = LogLevel.Debug, Message = "Stopping hosted service {Service} (the host's shutdown timeout already ended: {TimedOut})")]
    private static partial void LogStopping(ILogger logger, string service, bool timedOut);

    [LoggerMessage(EventId = 5705, Level = LogLevel.Debug, Message = "Hosted service {Service} stopped in {Elapsed}")]
    private static partial void LogStopped(ILogger logger, string service, TimeSpan elapsed);

    [LoggerMessage(EventId = 5706, Level = LogLevel.Warning, Message = "Hosted service {Service} is still stopping when the host's shutdown timeout ends ({Elapsed} into its stop)")]
    private static partial void LogStopOverdue(ILogger logger, string service, TimeSpan elapsed);
}

/// <summary>Puts the proxy's hosted services under <see cref="SupervisedHostedService"/>.</summary>
internal static class SupervisionServices
{
    /// <summary>
    /// Wraps every <see cref="IHostedService"/> registered so far in a <see cref="SupervisedHostedService"/> (call it
    /// last; a service registered after it is not supervised), and sets
    /// <see cref="HostOptions.BackgroundServiceExceptionBehavior"/> to <see cref="BackgroundServiceExceptionBehavior.Ignore"/>.
    /// Calling it again does nothing.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="fromIndex">When given, only the hosted services registered from that index on are wrapped (the
    /// proxy's, inside an app that hosts its endpoints: the app's own services and its <see cref="HostOptions"/> stay as they are).</param>
    public static IServiceCollection AddHostedServiceSupervision(this IServiceCollection services, int? fromIndex = null)
    {
        if (services.Any(d => d.ServiceType == typeof(SupervisionMarker)))
        {
            return services;
        }

        services.AddSingleton<SupervisionMarker>();
        if (fromIndex is null)
        {
            services.Configure<HostOptions>(options => options.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.Ignore);
        }

        for (var i = fromIndex ?? 0; i < services.Count; i++)
        {
            var descriptor = services[i];
            if (descriptor.ServiceType != typeof(IHostedService) || descriptor.IsKeyedService)
            {
                continue;
            }

            services[i] = ServiceDescriptor.Singleton<IHostedService>(provider => Supervise(provider, descriptor));
        }

        return services;
    }

    private static SupervisedHostedService Supervise(IServiceProvider provider, ServiceDescriptor descriptor)
    {
        var (inner, owned) = descriptor switch
        {
            { ImplementationInstance: IHostedService instance } => (instance, false),
            { ImplementationFactory: { } factory } => ((IHostedService)factory(provider), false), // e.g. a singleton the container owns
            { ImplementationType: { } type } => ((IHostedService)ActivatorUtilities.CreateInstance(provider, type), true),
            _ => throw new InvalidOperationException($"The hosted service registration {descriptor} has no implementation."),
        };
        return new SupervisedHostedService(
            inner,
            provider.GetService<TimeProvider>() ?? TimeProvider.System,
            provider.GetRequiredService<ILogger<SupervisedHostedService>>(),
            owned);
    }

    /// <summary>Marks a service collection whose hosted services are already supervised.</summary>
    private sealed class SupervisionMarker;
}
