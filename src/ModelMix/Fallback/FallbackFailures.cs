using System.Net;
using Anthropic.Exceptions;

namespace ModelMix.Pipeline;

/// <summary>Classifies exceptions from the inner client (the Anthropic SDK's, or plain HTTP ones from other clients).</summary>
internal static class FallbackFailures
{
    /// <summary>Classifies <paramref name="exception"/>.</summary>
    /// <param name="exception">What the attempt threw.</param>
    /// <param name="callerCancelled">Whether the caller's token is cancelled.</param>
    public static FallbackFailure Classify(Exception? exception, bool callerCancelled) => exception switch
    {
        null => FallbackFailure.Permanent,
        OperationCanceledException when callerCancelled => FallbackFailure.Cancelled,
        _ when callerCancelled => FallbackFailure.Cancelled,
        AnthropicRateLimitException => FallbackFailure.RateLimited,
        AnthropicBadRequestException bad when IsPromptTooLong(bad.ApiMessage ?? bad.Message) => FallbackFailure.ContextOverflow,
        AnthropicApiException api => ClassifyStatus((int)api.StatusCode),
        AnthropicSseException sse => sse.Type?.Raw() is "overloaded_error" or "api_error" ? FallbackFailure.Transient : FallbackFailure.Permanent,
        AnthropicIOException { InnerException.InnerException: TimeoutException } => FallbackFailure.Timeout,
        AnthropicIOException => FallbackFailure.Transient,
        TimeoutException or OperationCanceledException => FallbackFailure.Timeout,
        HttpRequestException { StatusCode: { } status } => ClassifyStatus((int)status),
        HttpRequestException or IOException => FallbackFailure.Transient,
        _ => FallbackFailure.Permanent,
    };

    /// <summary>Whether a failure of this kind is retried on the same model.</summary>
    public static bool IsRetryable(FallbackFailure failure) =>
        failure is FallbackFailure.RateLimited or FallbackFailure.Transient or FallbackFailure.Timeout;

    /// <summary>Anthropic's wording for a context-window overflow: "prompt is too long: 215000 tokens > 200000 maximum".</summary>
    /// <param name="message">The API's error message.</param>
    public static bool IsPromptTooLong(string? message) =>
        message is not null
        && (message.Contains("prompt is too long", StringComparison.OrdinalIgnoreCase)
            || message.Contains("exceeds the context window", StringComparison.OrdinalIgnoreCase)
            || message.Contains("context length", StringComparison.OrdinalIgnoreCase));

    private static FallbackFailure ClassifyStatus(int status) => status switch
    {
        (int)HttpStatusCode.TooManyRequests => FallbackFailure.RateLimited,
        (int)HttpStatusCode.RequestTimeout => FallbackFailure.Timeout,
        >= 500 => FallbackFailure.Transient,
        _ => FallbackFailure.Permanent,
    };
}
