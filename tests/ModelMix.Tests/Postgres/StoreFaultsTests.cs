using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Postgres;
using ModelMix.Stores;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.Tests.Postgres;

/// <summary>
/// Which store errors are transient (<see cref="StoreFaults"/>: the proxy answers them 503 overloaded_error), how the
/// stores wrap them, the connection wait of <see cref="PostgresDatabase"/>, and the connection sizing arithmetic.
/// </summary>
public sealed class StoreFaultsTests
{
    [Theory]
    [InlineData("53300", "too_many_connections")]
    [InlineData("53200", "server_resources")]
    [InlineData("57P01", "shutdown")] // terminating connection due to administrator command (a failover, a restart)
    [InlineData("57P03", "shutdown")] // the database system is starting up
    [InlineData("08006", "connection")]
    [InlineData("40P01", "conflict")]
    [InlineData("25006", "read_only")] // a failover left the store on a standby
    [InlineData("57014", "timeout")]
    public void Server_errors_that_pass_by_themselves_are_transient(string sqlState, string reason)
    {
        var error = new PostgresException("message", "FATAL", "FATAL", sqlState);

        Assert.True(StoreFaults.IsTransient(error));
        Assert.Equal(reason, StoreFaults.ReasonOf(error));
    }

    [Theory]
    [InlineData("42P01")] // undefined table: a schema problem
    [InlineData("23505")] // unique violation: the data
    [InlineData("28P01")] // password authentication failed: the configuration
    [InlineData("57P04")] // database dropped
    public void Server_errors_that_need_a_person_are_not(string sqlState)
    {
        var error = new PostgresException("message", "ERROR", "ERROR", sqlState);

        Assert.False(StoreFaults.IsTransient(error));
        Assert.Equal("other", StoreFaults.ReasonOf(error));
    }

    [Fact]
    public void Npgsql_timeouts_and_broken_sockets_are_transient_and_a_full_pool_says_so()
    {
        var pool = new NpgsqlException("The connection pool has been exhausted, either raise 'Max Pool Size' (currently 8) or 'Timeout' (currently 2 seconds) in your connection string.", new TimeoutException());
        var command = new NpgsqlException("Exception while reading from stream", new TimeoutException("Timeout during reading attempt"));
        var refused = new NpgsqlException("Failed to connect to 127.0.0.1:5432", new SocketException((int)SocketError.ConnectionRefused));

        Assert.Equal("pool_exhausted", StoreFaults.ReasonOf(pool));
        Assert.Equal("timeout", StoreFaults.ReasonOf(command));
        Assert.Equal("connection", StoreFaults.ReasonOf(refused));
        Assert.All(new[] { pool, command, refused }, error => Assert.True(StoreFaults.IsTransient(error)));
    }

    [Fact]
    public void Sqlite_busy_and_locked_are_transient_and_other_sqlite_errors_and_cancellation_are_not()
    {
        Assert.Equal("busy", StoreFaults.ReasonOf(new SqliteException("SQLite Error 5: 'database is locked'.", 5)));
        Assert.Equal("busy", StoreFaults.ReasonOf(new SqliteException("SQLite Error 6: 'database table is locked'.", 6)));
        Assert.False(StoreFaults.IsTransient(new SqliteException("SQLite Error 11: 'database disk image is malformed'.", 11)));
        Assert.False(StoreFaults.IsTransient(new OperationCanceledException()));
        Assert.False(StoreFaults.IsTransient(new InvalidOperationException("a bug")));
        Assert.False(StoreFaults.IsTransient(null));
    }

    [Fact]
    public void Unavailable_names_the_operation_and_reason_and_keeps_one_already_named()
    {
        var cause = new PostgresException("too many connections for role \"modelmix\"", "FATAL", "FATAL", "53300");

        var unavailable = StoreFaults.Unavailable("keys.authenticate", cause);
        var again = StoreFaults.Unavailable("budgets.reserve", unavailable);

        Assert.Equal("keys.authenticate", unavailable.Operation);
        Assert.Equal("too_many_connections", unavailable.Reason);
        Assert.Same(cause, unavailable.InnerException);
        Assert.Contains("keys.authenticate", unavailable.Message, StringComparison.Ordinal);
        Assert.Same(unavailable, again);
        Assert.True(StoreFaults.IsTransient(unavailable));
    }

    [Fact]
    public void Debian_defaults_fit_one_replica_with_the_default_pool_but_not_three()
    {
        // Debian's postgresql.conf: max_connections = 100, superuser_reserved_connections = 3 (reserved_connections = 0):
        // a role that is not a superuser gets 100 − 3 = 97 connections. Three replicas with Npgsql's default pool of 100
        // may open 3 × 100 = 300 > 97; each may have at most ⌊97 / 3⌋ = 32.
        var debian = new StoreConnectionCapacity { MaxConnections = 100, ReservedConnections = 3, PoolSize = 100 };

        Assert.Equal(97, debian.Available);
        Assert.False(debian.Fits(3));
        Assert.Equal(300, debian.Needed(3));
        Assert.Equal(32, debian.PoolSizeFor(3));
        Assert.Equal("max_connections = 100 less 3 reserved", debian.BindingLimit);
        Assert.True((debian with { PoolSize = 32 }).Fits(3)); // 3 × 32 = 96 ≤ 97
        Assert.False(debian.Fits(1)); // even one replica: 100 > 97
    }

    [Fact]
    public void A_role_or_database_connection_limit_binds_unless_the_role_is_a_superuser()
    {
        var role = new StoreConnectionCapacity { MaxConnections = 500, ReservedConnections = 3, RoleLimit = 4, DatabaseLimit = 50, PoolSize = 8 };
        var superuser = new StoreConnectionCapacity { MaxConnections = 500, ReservedConnections = 3, Superuser = true, PoolSize = 100 };

        Assert.Equal(4, role.Available);
        Assert.Equal("the role's CONNECTION LIMIT of 4", role.BindingLimit);
        Assert.False(role.Fits(1));
        Assert.Equal(500, superuser.Available); // the reserved slots are a superuser's too
        Assert.True(superuser.Fits(5)); // 5 × 100 = 500
        Assert.False(superuser.Fits(6));
    }

    [Fact]
    public async Task The_connection_wait_is_the_connection_strings_Timeout_else_60_seconds_not_confused_by_Command_Timeout()
    {
        await using var given = new PostgresDatabase(StoreLocation.Parse("postgres://u:p@db.internal:5432/a?Timeout=5&Maximum_Pool_Size=30").Value);
        await using var unset = new PostgresDatabase("Host=db.internal;Database=b;Username=u;Command Timeout=120");

        Assert.Equal(TimeSpan.FromSeconds(5), given.ConnectionWait);
        Assert.Equal(30, new NpgsqlConnectionStringBuilder(given.DataSource.ConnectionString).MaxPoolSize);
        Assert.Equal(TimeSpan.FromSeconds(PostgresDatabase.DefaultConnectionWaitSeconds), unset.ConnectionWait);
        Assert.Equal(60, PostgresDatabase.DefaultConnectionWaitSeconds);
    }

    [Fact]
    public async Task A_connection_the_server_refuses_is_tried_again_until_one_comes_free()
    {
        await using var server = await LimitedRoleAsync(connectionLimit: 1, timeoutSeconds: 30);
        await using var budgets = new PostgresBudgetStore(server.RoleConnectionString);

        // The test holds the role's only connection; the store's first tries are refused (53300) until it lets go.
        await using var held = new NpgsqlConnection(server.HeldConnectionString);
        await held.OpenAsync();
        var usage = budgets.GetUsageAsync("key:k", BudgetWindow.Day, DateTimeOffset.UtcNow);
        await Task.Delay(300);
        Assert.False(usage.IsCompleted);
        await held.CloseAsync();

        Assert.Equal(0m, (await usage).SpentUsd);
    }

    [Fact]
    public async Task A_connection_refused_past_the_wait_is_a_store_unavailable_error_of_the_operation()
    {
        await using var server = await LimitedRoleAsync(connectionLimit: 1, timeoutSeconds: 1);
        await using var budgets = new PostgresBudgetStore(server.RoleConnectionString);
        await using var held = new NpgsqlConnection(server.HeldConnectionString);
        await held.OpenAsync();

        var error = await Assert.ThrowsAsync<StoreUnavailableException>(() => budgets.ReconcileExpiredAsync(DateTimeOffset.UtcNow));

        Assert.Equal("budgets.migrate", error.Operation); // the store's first use migrates it
        Assert.Equal("too_many_connections", error.Reason);
        Assert.DoesNotContain("limited-role-secret", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_capacity_read_from_the_server_names_the_role_limit_and_the_pool_size()
    {
        await using var server = await LimitedRoleAsync(connectionLimit: 3, timeoutSeconds: 5, maxPoolSize: 7);

        var capacity = await StoreLocation.Parse(server.RoleConnectionString).ReadConnectionCapacityAsync();

        Assert.NotNull(capacity);
        Assert.Equal(3, capacity.Available);
        Assert.Equal(3, capacity.RoleLimit);
        Assert.Equal(7, capacity.PoolSize);
        Assert.False(capacity.Superuser);
        Assert.True(capacity.MaxConnections > capacity.ReservedConnections);
        Assert.Null(await StoreLocation.Parse(Path.Combine(Path.GetTempPath(), "x.db")).ReadConnectionCapacityAsync());
    }

    /// <summary>A database owned by a new role with a <c>CONNECTION LIMIT</c>; two connection strings of that role (the store's, and a separate pool's for the test to hold a slot).</summary>
    private static async Task<LimitedRole> LimitedRoleAsync(int connectionLimit, int timeoutSeconds, int maxPoolSize = 4)
    {
        var admin = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("faults");
        var role = "mmx_faults_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(admin) { Pooling = false }.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                $"CREATE ROLE \"{role}\" LOGIN PASSWORD 'limited-role-secret' CONNECTION LIMIT {connectionLimit}; ALTER DATABASE \"{new NpgsqlConnectionStringBuilder(admin).Database}\" OWNER TO \"{role}\";",
                connection);
            await command.ExecuteNonQueryAsync();
        }

        var store = new NpgsqlConnectionStringBuilder(admin) { Username = role, Password = "limited-role-secret", Timeout = timeoutSeconds, MaxPoolSize = maxPoolSize };
        var held = new NpgsqlConnectionStringBuilder(store.ConnectionString) { Pooling = false };
        return new LimitedRole(admin, role, store.ConnectionString, held.ConnectionString);
    }

    private sealed record LimitedRole(string Admin, string Role, string RoleConnectionString, string HeldConnectionString) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            NpgsqlConnection.ClearAllPools();
            try
            {
                await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Admin) { Database = "postgres", Pooling = false }.ConnectionString);
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{new NpgsqlConnectionStringBuilder(Admin).Database}\" WITH (FORCE); DROP ROLE IF EXISTS \"{Role}\";", connection);
                await command.ExecuteNonQueryAsync();
            }
            catch (NpgsqlException)
            {
                // The throwaway cluster goes with the test run anyway.
            }
        }
    }
}
