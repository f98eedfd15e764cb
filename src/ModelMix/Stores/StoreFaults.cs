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
/// connection held the file past the busy timeout). Not transient: everything else, and cancellation. The driver errors
/// are read by the registered <see cref="IStoreBackend"/>s (<see cref="IStoreBackend.ClassifyFault"/>).
/// </remarks>
public static class StoreFaults
{
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

    private static string? Classify(Exception? exception)
    {
        switch (exception)
        {
            case null:
                return null;
            case StoreUnavailableException unavailable:
                return unavailable.Reason;
        }

        // Each driver's errors are classified by its backend (IStoreBackend.ClassifyFault), registered when its
        // assembly loads: the core references no driver.
        foreach (var backend in StoreBackends.Registered)
        {
            if (backend.ClassifyFault(exception) is { } reason)
            {
                return reason;
            }
        }

        return null;
    }
}
