using Anthropic.Exceptions;
using ModelMix.Ledger;

namespace ModelMix.Pipeline;

/// <summary>How an exception from the inner client is written to the ledger: status, error type and HTTP status.</summary>
/// <param name="Status"><see cref="LedgerStatus.Error"/> when the upstream answered with an error, <see cref="LedgerStatus.Failed"/> when no answer arrived.</param>
/// <param name="ErrorType">Anthropic's <c>error.type</c>, or ModelMix's own name for the failure.</param>
/// <param name="HttpStatus">The HTTP status of the error answer, or 0.</param>
/// <param name="UpstreamRequestId">The upstream's <c>request-id</c>, when the error carried one.</param>
internal readonly record struct AttemptFailure(LedgerStatus Status, string ErrorType, int HttpStatus, string? UpstreamRequestId = null)
{
    /// <summary>The error type of a call the caller cancelled.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>Classifies <paramref name="exception"/>.</summary>
    /// <param name="exception">What the inner client threw.</param>
    /// <param name="callerCancelled">Whether the caller's token was cancelled.</param>
    /// <param name="midStream">Whether a stream had already delivered updates.</param>
    public static AttemptFailure From(Exception exception, bool callerCancelled, bool midStream)
    {
        switch (exception)
        {
            case OperationCanceledException when callerCancelled:
                return new(LedgerStatus.Failed, Cancelled, 0);
            case AnthropicApiException api:
                var status = (int)api.StatusCode;
                return new(LedgerStatus.Error, api.Type?.Raw() ?? TypeFor(api, status), status, api.RequestID);
            case AnthropicSseException sse:
                // An `error` event inside a 200 stream (e.g. overloaded_error mid-way).
                return new(LedgerStatus.Error, sse.Type?.Raw() ?? "api_error", 200);
            case AnthropicInvalidDataException:
                return new(LedgerStatus.Error, "malformed_upstream_response", 0);
            case TimeoutException or OperationCanceledException:
                // Not the caller's token: an HTTP timeout surfaces as a (TaskCanceled) OperationCanceledException.
                return new(LedgerStatus.Failed, "upstream_timeout", 0);
            case AnthropicIOException or IOException or HttpRequestException when midStream:
                // The answer began and broke off: the proxy door records the same as an error.
                return new(LedgerStatus.Error, "stream_cut", 200);
            case AnthropicIOException or IOException or HttpRequestException:
                return new(LedgerStatus.Failed, exception.InnerException is TimeoutException ? "upstream_timeout" : "upstream_unreachable", 0);
            default:
                return new(LedgerStatus.Failed, exception.GetType().Name, 0);
        }
    }

    private static string TypeFor(AnthropicApiException exception, int status) => exception switch
    {
        AnthropicBadRequestException => "invalid_request_error",
        AnthropicUnauthorizedException => "authentication_error",
        AnthropicForbiddenException => "permission_error",
        AnthropicNotFoundException => "not_found_error",
        AnthropicContentTooLargeException => "request_too_large",
        AnthropicRateLimitException => "rate_limit_error",
        AnthropicOverloadedException => "overloaded_error",
        Anthropic5xxException => "api_error",
        _ => status >= 500 ? "api_error" : "invalid_request_error",
    };
}
