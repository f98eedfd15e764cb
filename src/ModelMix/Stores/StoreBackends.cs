using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ModelMix.Stores;

/// <summary>
/// The registered <see cref="IStoreBackend"/>s: <see cref="StoreLocation.Parse(string)"/> picks among them by the setting's
/// form, and <see cref="StoreFaults"/> asks them which driver errors are transient. <c>services.AddSqliteStores()</c>
/// and <c>services.AddPostgresStores()</c> register theirs; a backend's assembly also registers its backend when it is
/// loaded (so a store created directly classifies its own faults). The <c>modelmix</c> command registers both.
/// </summary>
public static class StoreBackends
{
    private static readonly Lock Sync = new();
    private static IStoreBackend[] _registered = [];

    /// <summary>The registered backends, in registration order.</summary>
    public static IReadOnlyList<IStoreBackend> Registered => Volatile.Read(ref _registered);

    /// <summary>Registers <paramref name="backend"/> (once: a second registration of the same backend type is ignored).</summary>
    public static void Register(IStoreBackend backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        lock (Sync)
        {
            if (_registered.Any(b => b.GetType() == backend.GetType()))
            {
                return;
            }

            Volatile.Write(ref _registered, [.. _registered, backend]);
        }
    }

    /// <summary>
    /// What a backend package's <c>services.Add…Stores()</c> does (<c>AddSqliteStores</c>, <c>AddPostgresStores</c>):
    /// registers <paramref name="backend"/> here and as an <see cref="IStoreBackend"/> service (once).
    /// </summary>
    internal static IServiceCollection AddTo(IServiceCollection services, IStoreBackend backend)
    {
        ArgumentNullException.ThrowIfNull(services);
        Register(backend);
        services.TryAddEnumerable(ServiceDescriptor.Singleton(backend));
        return services;
    }

    /// <summary>The first registered backend that recognizes <paramref name="setting"/>, or null.</summary>
    public static IStoreBackend? Find(string setting)
    {
        foreach (var backend in Registered)
        {
            if (backend.Recognizes(setting))
            {
                return backend;
            }
        }

        return null;
    }
}
