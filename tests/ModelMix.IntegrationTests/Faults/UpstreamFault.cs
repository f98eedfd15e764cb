namespace ModelMix.IntegrationTests.Faults;

/// <summary>One row of the fault matrix: what the upstream does to the first attempt of a request.</summary>
public enum UpstreamFault
{
    /// <summary>429 <c>rate_limit_error</c> with <c>retry-after: 1</c>.</summary>
    RateLimited,

    /// <summary>529 <c>overloaded_error</c>.</summary>
    Overloaded,

    /// <summary>500 <c>api_error</c>.</summary>
    ServerError,

    /// <summary>The upstream base URL is a closed port: every attempt is refused.</summary>
    ConnectRefused,

    /// <summary>No byte before the proxy's upstream timeout.</summary>
    SlowFirstByte,

    /// <summary>The connection breaks part-way through the answer (a stream after 3 events, a JSON body after 40 bytes).</summary>
    CutMidway,

    /// <summary>A 200 whose JSON is truncated (for a stream: the first event's data).</summary>
    MalformedJson,

    /// <summary>
    /// The upstream's event stream carries an <c>error</c> event after a few events (to a non-streaming request, that
    /// event stream is itself the fault: a JSON answer was asked for).
    /// </summary>
    ErrorEventMidStream,
}
