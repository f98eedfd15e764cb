namespace FakeAnthropic;

/// <summary>
/// One <c>POST /v1/messages</c> call the fake served: the <c>request-id</c> it answered with, and whether the whole
/// answer was written (false while it is being served, when the caller went away first, or when a fault cut it).
/// </summary>
public sealed class ServedMessage(string requestId)
{
    private volatile bool _completed;

    /// <summary>The <c>request-id</c> header the fake sent with this call's answer.</summary>
    public string RequestId { get; } = requestId;

    /// <summary>Whether the answer was written to its end with the caller still connected.</summary>
    public bool Completed
    {
        get => _completed;
        internal set => _completed = value;
    }
}
