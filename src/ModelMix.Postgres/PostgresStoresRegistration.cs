using ModelMix.Stores;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the PostgreSQL store backend (package <c>ModelMix.Postgres</c>).</summary>
public static class PostgresStoresServiceCollectionExtensions
{
    /// <summary>
    /// Lets <c>ModelMix:Store</c> name a PostgreSQL database (<c>services.AddModelMix(configuration).AddPostgresStores()</c>):
    /// registers <see cref="PostgresStoreBackend"/> as an <see cref="IStoreBackend"/> and with <see cref="StoreBackends"/>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddPostgresStores(this IServiceCollection services) => StoreBackends.AddTo(services, PostgresStoreBackend.Instance);
}
