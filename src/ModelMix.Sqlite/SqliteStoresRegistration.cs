using ModelMix.Stores;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the SQLite store backend (package <c>ModelMix.Sqlite</c>).</summary>
public static class SqliteStoresServiceCollectionExtensions
{
    /// <summary>
    /// Lets <c>ModelMix:Store</c> name a SQLite file (<c>services.AddModelMix(configuration).AddSqliteStores()</c>):
    /// registers <see cref="SqliteStoreBackend"/> as an <see cref="IStoreBackend"/> and with <see cref="StoreBackends"/>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddSqliteStores(this IServiceCollection services) => StoreBackends.AddTo(services, SqliteStoreBackend.Instance);
}
