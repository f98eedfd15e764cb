using Microsoft.Extensions.Hosting;
using ModelMix.Caching;
using ModelMix.Postgres;

namespace ModelMix.Server;

/// <summary>
/// At start, with a PostgreSQL store: creates or upgrades the shared cache-warm table, so no request pays for the
/// migration (a lookup gives the database only a short time before it answers from local state).
/// </summary>
internal sealed class ProxyWarmStoreStartup(IPromptCacheWarmStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        store is PostgresPromptCacheWarmStore shared ? shared.MigrateAsync(cancellationToken) : Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
