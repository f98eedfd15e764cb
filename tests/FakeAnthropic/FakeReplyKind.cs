namespace FakeAnthropic;

/// <summary>What a <see cref="FakeReply"/> answers with.</summary>
public enum FakeReplyKind
{
    /// <summary>The text fixture, as JSON or as a stream depending on the request's <c>stream</c> flag.</summary>
    Auto,

    /// <summary>A non-streaming JSON message body from a fixture.</summary>
    Message,

    /// <summary>A server-sent-event stream from an <c>.sse</c> fixture.</summary>
    Stream,

    /// <summary>An API error in the documented error shape.</summary>
    Error,
}
