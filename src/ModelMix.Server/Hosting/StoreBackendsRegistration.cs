using System.Runtime.CompilerServices;
using ModelMix.Stores;

namespace ModelMix.Server;

/// <summary>
/// The proxy serves both store backends (a SQLite file or a PostgreSQL database, <c>ModelMix:Store</c>): they are
/// registered with <see cref="StoreBackends"/> when this assembly loads, before any proxy reads its store setting.
/// </summary>
internal static class StoreBackendsRegistration
{
#pragma warning disable CA2255 // The proxy assembly's own set-up: the two backends it references, registered once.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register()
    {
        StoreBackends.Register(SqliteStoreBackend.Instance);
        StoreBackends.Register(PostgresStoreBackend.Instance);
    }
}
