using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Stores;

namespace ModelMix.Server;

/// <summary>
/// At start, with a PostgreSQL store: reads how many connections the server lets this role open
/// (<see cref="StoreLocation.ReadConnectionCapacityAsync"/>: <c>max_connections</c> less the reserved slots, and the
/// role's and database's <c>CONNECTION LIMIT</c>) and warns when <see cref="ProxyOptions.Replicas"/> × this replica's
/// <c>Maximum Pool Size</c> exceeds it: under load the server would refuse connections, and requests would wait for one
/// (up to the connection string's <c>Timeout</c>) and may be answered 503 (docs/deploy.md, sizing the connections).
/// Never fails the start: a server it cannot ask is reported by the stores' own start.
/// </summary>
internal sealed partial class StoreCapacityStartup(StoreLocation store, IOptions<ProxyOptions> options, ILogger<StoreCapacityStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (store.IsLocalFile)
        {
            return;
        }

        StoreConnectionCapacity? capacity;
        try
        {
            capacity = await store.ReadConnectionCapacityAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            NotRead(logger, store.Display, exception.GetType().Name, exception.Message);
            return;
        }

        if (capacity is null)
        {
            return;
        }

        var replicas = options.Value.Replicas;
        if (capacity.Fits(replicas))
        {
            Fits(logger, replicas, capacity.PoolSize, capacity.Needed(replicas), capacity.Available, capacity.BindingLimit);
            return;
        }

        TooMany(logger, replicas, capacity.PoolSize, capacity.Needed(replicas), capacity.Available, capacity.BindingLimit, capacity.PoolSizeFor(replicas));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(120, LogLevel.Information, "Database connections: {Replicas} replica(s) × Maximum Pool Size {PoolSize} = {Needed}, within the {Available} the server allows this role ({Limit}).")]
    private static partial void Fits(ILogger logger, int replicas, int poolSize, long needed, int available, string limit);

    [LoggerMessage(121, LogLevel.Warning, "Database connections: {Replicas} replica(s) (ModelMix:Replicas) × Maximum Pool Size {PoolSize} = {Needed}, but the server allows this role only {Available} ({Limit}). Under load the server will refuse connections (53300) and requests will wait for one and may be answered 503. Set Maximum Pool Size to at most {Suggested} in the store's connection string, or raise the limit (docs/deploy.md, sizing the connections).")]
    private static partial void TooMany(ILogger logger, int replicas, int poolSize, long needed, int available, string limit, int suggested);

    [LoggerMessage(122, LogLevel.Warning, "Could not read the connection limits of the PostgreSQL store {Store} ({ErrorType}: {Error}); the sizing check was skipped.")]
    private static partial void NotRead(ILogger logger, string store, string errorType, string error);
}
