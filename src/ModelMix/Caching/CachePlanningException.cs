namespace ModelMix.Caching;

/// <summary>
/// The request body is not a Messages request the planner can read (not JSON, not an object, or <c>tools</c>,
/// <c>system</c>, <c>messages</c> or a <c>cache_control</c> of the wrong shape). The message names the offending path.
/// </summary>
public sealed class CachePlanningException : Exception
{
    /// <summary>Creates the exception with no message.</summary>
    public CachePlanningException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What is wrong and where.</param>
    public CachePlanningException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the parser's error.</summary>
    /// <param name="message">What is wrong and where.</param>
    /// <param name="innerException">The underlying error, e.g. a <see cref="System.Text.Json.JsonException"/>.</param>
    public CachePlanningException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
