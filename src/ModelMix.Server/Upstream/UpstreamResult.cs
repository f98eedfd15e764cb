namespace ModelMix.Server;

/// <summary>
/// What one upstream attempt produced: either an open streaming response, or a complete buffered answer (success
/// or error) with the headers worth relaying.
/// </summary>
internal sealed class UpstreamResult : IDisposable
{
    /// <summary>The attempt number (1 = first try).</summary>
    public required int Attempt { get; init; }

    /// <summary>The attempt's ledger record id, journaled as its intent before it was sent (null: a result no attempt made).</summary>
    public string? AttemptId { get; init; }

    /// <summary>The HTTP status the upstream answered with.</summary>
    public required int Status { get; init; }

    /// <summary>The response, kept open only for a stream that is still to be relayed.</summary>
    public HttpResponseMessage? OpenStream { get; init; }

    /// <summary>The complete body of a non-streaming answer.</summary>
    public byte[] Body { get; init; } = [];

    /// <summary>Response headers to relay to the client.</summary>
    public required IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; }

    /// <summary>Whether another attempt may succeed (429, 529, 5xx, malformed answer).</summary>
    public bool Retryable { get; init; }

    /// <summary>
    /// A buffered failure another attempt may not have had (<see cref="Retryable"/>): once the retries are spent, what
    /// moves a request on to the fallback chain's next model or the cascade's next tier.
    /// </summary>
    public bool FailedRetryably => OpenStream is null && Retryable;

    /// <summary>How long the upstream asked us to wait (<c>retry-after</c>).</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>When the attempt started, as a <see cref="TimeProvider"/> timestamp.</summary>
    public long StartedTimestamp { get; init; }

    /// <summary>The exact cost of a successful buffered attempt, as recorded (<c>x-modelmix-cost-usd</c>); null when unpriced or not answered.</summary>
    public decimal? Cost { get; init; }

    /// <summary>When the attempt started, in UTC.</summary>
    public DateTimeOffset StartedAt { get; init; }

    /// <inheritdoc />
    public void Dispose() => OpenStream?.Dispose();
}
