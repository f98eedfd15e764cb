namespace ModelMix.Stores;

/// <summary>
/// A store operation failed for a reason that passes by itself: the database is overloaded (no free connection in the
/// pool in time, too many connections, out of resources), restarting or failing over, or a SQLite file is busy or
/// locked by another process. Trying again later may succeed; nothing about the request was wrong. The proxy answers
/// it with 503 <c>overloaded_error</c> and <c>retry-after</c>. <see cref="StoreFaults"/> decides what counts.
/// </summary>
public sealed class StoreUnavailableException : Exception
{
    /// <summary>Creates the exception for an unnamed operation.</summary>
    public StoreUnavailableException()
        : this("The store is unavailable.")
    {
    }

    /// <summary>Creates the exception with a message, for an unnamed operation.</summary>
    public StoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the driver's error, for an unnamed operation.</summary>
    public StoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = StoreFaults.ReasonOf(innerException);
    }

    /// <summary>Made by <see cref="StoreFaults.Unavailable"/>.</summary>
    internal StoreUnavailableException(string operation, string reason, string message, Exception innerException)
        : base(message, innerException)
    {
        Operation = operation;
        Reason = reason;
    }

    /// <summary>What the store was doing, as <c>component.operation</c> (e.g. <c>budgets.reserve</c>), or <c>store</c>; a metric label.</summary>
    public string Operation { get; } = "store";

    /// <summary>
    /// Why, in one of a few fixed words (a metric label): <c>pool_exhausted</c>, <c>too_many_connections</c>,
    /// <c>server_resources</c>, <c>shutdown</c>, <c>connection</c>, <c>timeout</c>, <c>conflict</c>, <c>read_only</c>,
    /// <c>io</c>, <c>busy</c>, or <c>other</c> (see <see cref="StoreFaults.ReasonOf"/>).
    /// </summary>
    public string Reason { get; } = "other";
}
