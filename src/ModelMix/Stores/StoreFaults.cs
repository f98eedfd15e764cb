using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ModelMix.Stores;

/// <summary>
/// The one place that decides which store errors are transient — the database is overloaded, restarting, failing over
/// or busy, so the same call may succeed a moment later — as opposed to a bug, a schema problem or bad data. The stores
/// wrap transient errors of their request-path operations in <see cref="StoreUnavailableException"/>; the proxy answers
/// any transient store error with 503 <c>overloaded_error</c> and <c>retry-after</c> (docs/deploy.md).
/// </summary>
/// <remarks>
/// Transient: PostgreSQL SQLSTATE classes 08 (connection exception) and 53 (insufficient resources: 53300 too many
/// connections), 57P01–57P03 (administrator or crash shutdown, cannot connect now), 57014 (statement timeout), 40001 and
/// 40P01 (serialization failure, deadlock), 55P03 (lock not available), 25006 (read-only transaction: a failover left
/// the store on a standby), 58000/58030 (system and I/O errors); Npgsql's own errors caused by a timeout (a full pool, a
/// connect or command timeout) or a broken socket; SQLite's <c>SQLITE_BUSY</c> and <c>SQLITE_LOCKED</c> (another
/// connection held the file past the busy timeout). Not transient: everything else, and cancellation.
/// </remarks>
public static class StoreFaults
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;

    /// <summary>Whether <paramref name="exception"/> is a transient store error (see the remarks of <see cref="StoreFaults"/>).</summary>
    public static bool IsTransient(Exception? exception) => Classify(exception) is not null;

    /// <summary>
    /// Why a transient store error happened, in one of a few fixed words (a metric label): <c>pool_exhausted</c> (no
    /// pooled connection came free within the connection's <c>Timeout</c>), <c>too_many_connections</c> (the server
    /// refused a connection: <c>max_connections</c>, or a role's or database's connection limit), <c>server_resources</c>,
    /// <c>shutdown</c> (the server is stopping, restarting or starting), <c>connection</c> (refused, reset or lost),
    /// <c>timeout</c>, <c>conflict</c> (deadlock, serialization failure, lock not available), <c>read_only</c>, <c>io</c>,
    /// <c>busy</c> (SQLite busy or locked); <c>other</c> for an error that is not transient.
    /// </summary>
    public static string ReasonOf(Exception? exception) => Classify(exception) ?? "other";

    /// <summary>
    /// <paramref name="exception"/> as a <see cref="StoreUnavailableException"/> of <paramref name="operation"/> (itself
    /// when it already is one). Call it for a transient error only (<see cref="IsTransient"/>).
    /// </summary>
    /// <param name="operation">What the store was doing, as <c>component.operation</c> (e.g. <c>keys.authenticate</c>).</param>
    /// <param name="exception">The driver's error.</param>
    public static StoreUnavailableException Unavailable(string operation, Exception exception)
    {
        ArgumentException.ThrowIfNullOrEmpty(operation);
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is StoreUnavailableException unavailable)
        {
            return unavailable;
        }

        var reason = ReasonOf(exception);
        return new StoreUnavailableException(operation, reason, $"The store could not complete {operation} now ({reason}): {exception.Message}", exception);
    }

    /// <summary>
    /// For a store's <c>catch (Exception e) when (StoreFaults.ShouldWrap(e))</c>: a transient error that is not yet a
    /// <see cref="StoreUnavailableException"/> (one already wrapped by an inner operation keeps its operation).
    /// </summary>
    internal static bool ShouldWrap(Exception exception) => exception is not StoreUnavailableException && IsTransient(exception);

    private static string? Classify(Exception? exception) => exception switch
    {
        null => null,
        StoreUnavailableException unavailable => unavailable.Reason,
        PostgresException postgres => OfSqlState(postgres.SqlState),
        NpgsqlException npgsql => npgsql.InnerException switch
        {
            // Npgsql reports a full pool as "The connection pool has been exhausted, …" caused by a TimeoutException.
            TimeoutException => npgsql.Message.Contains("pool", StringComparison.OrdinalIgnoreCase) ? "pool_exhausted" : "timeout",
            IOException or SocketException => "connection",
            _ => npgsql.IsTransient ? "connection" : null,
        },
        SqliteException { SqliteErrorCode: SqliteBusy or SqliteLocked } => "busy",
        _ => null,
    };

    private static string? OfSqlState(string sqlState) => sqlState switch
    {
        "53300" => "too_many_connections",
        "53000" or "53100" or "53200" or "53400" => "server_resources",
        "57P01" or "57P02" or "57P03" => "shutdown",
        "57014" => "timeout",
        "40001" or "40P01" or "55P03" => "conflict",
        "25006" => "read_only",
        "58000" or "58030" => "io",
        _ when sqlState.StartsWith("08", StringComparison.Ordinal) => "connection",
        _ => null,
    };
}
