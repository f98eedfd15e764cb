using System.Runtime.CompilerServices;

namespace ModelMix.Cli;

/// <summary>
/// The modelmix command serves both store backends (a SQLite file or a PostgreSQL database, <c>ModelMix:Store</c>): they are
/// registered with <see cref="ModelMix.Stores.StoreBackends"/> when this assembly loads, before any command reads its
/// store setting, by the proxy's own registration (the same two backends).
/// </summary>
internal static class StoreBackendsRegistration
{
#pragma warning disable CA2255 // The command assembly's own set-up: the two backends it references, registered once.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() => Server.StoreBackendsRegistration.Register();
}
