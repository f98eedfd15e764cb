namespace ModelMix.Pipeline;

/// <summary>What a failed attempt means for the fallback stage.</summary>
internal enum FallbackFailure
{
    /// <summary>Cannot succeed by asking again (400, 401, 403, 404, 413, or anything not known to be transient).</summary>
    Permanent,

    /// <summary>The caller cancelled: never retried.</summary>
    Cancelled,

    /// <summary>429: retry after the server's retry-after, then fall back.</summary>
    RateLimited,

    /// <summary>529, 5xx, an error event before output, a connection failure: retry with backoff, then fall back.</summary>
    Transient,

    /// <summary>The HTTP call timed out (not the caller's cancellation): retry with backoff, then fall back.</summary>
    Timeout,

    /// <summary>The prompt is too long for the model's context window: go to a model with a larger one.</summary>
    ContextOverflow,
}
