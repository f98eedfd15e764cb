using System.Runtime.CompilerServices;
using ModelMix.Stores;

namespace ModelMix.Tests.Shared;

/// <summary>
/// Registers both store backends before any test runs, as the <c>modelmix</c> command does at its start: a test that
/// parses a store setting (<see cref="StoreLocation.Parse(string)"/>) gets the backend its form names.
/// </summary>
internal static class StoreBackendsForTests
{
#pragma warning disable CA2255 // A test assembly's set-up: the backends a library user registers with AddSqliteStores()/AddPostgresStores().
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register()
    {
        StoreBackends.Register(SqliteStoreBackend.Instance);
        StoreBackends.Register(PostgresStoreBackend.Instance);
    }
}
