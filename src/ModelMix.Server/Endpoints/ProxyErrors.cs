using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ModelMix.Stores;
using ModelMix.Telemetry;

namespace ModelMix.Server;

/// <summary>
/// The proxy's answer to an exception that escapes a request, in the caller's API shape (OpenAI's on
/// <c>/v1/chat/completions</c>, Anthropic's elsewhere) and always with a request id (the one the request already had, in
/// the body's <c>request_id</c> and <c>x-modelmix-request-id</c>):
/// <list type="bullet">
/// <item>a transient store error (<see cref="StoreFaults"/>: no database connection within the wait, too many
/// connections, a failover, SQLite busy) → 503 <c>overloaded_error</c> with <c>retry-after</c>, counted as
/// <c>modelmix_store_unavailable_total{operation,reason}</c> and logged at most every <see cref="LogInterval"/> per
/// operation with its cause;</item>
/// <item>a request Kestrel found malformed (<see cref="BadHttpRequestException"/>) → its 4xx;</item>
/// <item>anything else → 500 <c>api_error</c>, logged with its stack trace.</item>
/// </list>
/// The one place the proxy maps exceptions: the handlers let store errors propagate to it.
/// </summary>
internal sealed partial class ProxyErrors
{
    /// <summary>The <c>retry-after</c> of a 503 for an unavailable store, in seconds.</summary>
    public const int StoreRetryAfterSeconds = 1;

    /// <summary>How often one operation's store failures may be logged.</summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    private const string RequestIdHeader = "x-modelmix-request-id";
    private const string InternalMessage = "ModelMix hit an internal error while serving this request; it has been logged.";

    private readonly ILogger<ProxyErrors> _logger;
    private readonly TimeProvider _time;
    private readonly Counter<long> _storeUnavailable;
    private readonly ConcurrentDictionary<string, LogWindow> _windows = new(StringComparer.Ordinal);

    public ProxyErrors(ILogger<ProxyErrors> logger, TimeProvider time, IMeterFactory meters)
    {
        _logger = logger;
        _time = time;
        _storeUnavailable = meters.Create(ModelMixMetrics.MeterName).CreateCounter<long>(
            "modelmix.store_unavailable", null, "Requests answered 503 because the store (database) could not serve them in time, by store operation and reason.");
    }

    /// <summary>The middleware: runs the rest of the pipeline, answering what escapes it. No allocation for a request that completes synchronously.</summary>
    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        Task task;
        try
        {
            task = next(context);
        }
        catch (Exception exception)
        {
            return HandleAsync(context, exception);
        }

        return task.IsCompletedSuccessfully ? Task.CompletedTask : AwaitedAsync(context, task);
    }

    private async Task AwaitedAsync(HttpContext context, Task task)
    {
        try
        {
            await task;
        }
        catch (Exception exception)
        {
            await HandleAsync(context, exception);
        }
    }

    private async Task HandleAsync(HttpContext context, Exception exception)
    {
        if (context.RequestAborted.IsCancellationRequested && exception is OperationCanceledException or { InnerException: OperationCanceledException })
        {
            // The client went away: nobody to answer (ASP.NET Core's own handler does the same, with 499).
            if (!context.Response.HasStarted)
            {
                context.Response.StatusCode = StatusCodes.Status499ClientClosedRequest;
            }

            return;
        }

        var path = context.Request.Path.Value ?? "/";
        if (context.Response.HasStarted)
        {
            // Part of the answer is on the wire: no status to change. Logged, and rethrown so Kestrel ends the response.
            Log.Unhandled(_logger, exception, path);
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(exception);
        }

        // The request's id, given to it before anything could fail, survives the reset of the response.
        var requestId = context.Response.Headers[RequestIdHeader].ToString() is { Length: > 0 } id ? id : ProxyRequestId.New();
        context.Response.Clear();
        context.Response.Headers[RequestIdHeader] = requestId;

        if (StoreFaults.IsTransient(exception))
        {
            var unavailable = exception as StoreUnavailableException;
            var operation = unavailable?.Operation ?? "store";
            var reason = unavailable?.Reason ?? StoreFaults.ReasonOf(exception);
            _storeUnavailable.Add(1, new KeyValuePair<string, object?>("operation", operation), new("reason", reason));
            LogStoreFailure(operation, reason, exception);
            context.Response.Headers.RetryAfter = StoreRetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
            var message = $"ModelMix's database could not serve this request in time ({operation}: {reason.Replace('_', ' ')}); it is overloaded, restarting or failing over. Retry after {StoreRetryAfterSeconds} s.";
            await WriteAsync(context, StatusCodes.Status503ServiceUnavailable, message, "overloaded_error", requestId);
            return;
        }

        if (exception is BadHttpRequestException bad)
        {
            // Kestrel's verdict on the request itself (a body cut short, too large, malformed framing): the client's error.
            await WriteAsync(context, bad.StatusCode, $"The request could not be read: {bad.Message}", null, requestId);
            return;
        }

        Log.Unhandled(_logger, exception, path);
        await WriteAsync(context, StatusCodes.Status500InternalServerError, InternalMessage, null, requestId);
    }

    /// <summary>
    /// Writes the error in the caller's API shape: OpenAI's on the OpenAI-compatible endpoint (an Anthropic error type
    /// given goes in <c>code</c>), Anthropic's elsewhere (the type follows the status unless given). A client that is
    /// gone by then gets nothing.
    /// </summary>
    private static async Task WriteAsync(HttpContext context, int status, string message, string? anthropicType, string requestId)
    {
        try
        {
            await (ProxyApplication.IsOpenAiPath(context)
                ? OpenAi.OpenAiError.WriteAsync(context, status, message, code: anthropicType)
                : AnthropicError.WriteAsync(context, status, message, anthropicType, requestId));
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            // Nobody left to read it.
        }
    }

    private void LogStoreFailure(string operation, string reason, Exception exception)
    {
        var now = _time.GetTimestamp();
        var window = _windows.GetOrAdd(operation, static _ => new LogWindow());
        long folded;
        lock (window)
        {
            if (window.LastLogged != 0 && _time.GetElapsedTime(window.LastLogged, now) < LogInterval)
            {
                window.Folded++;
                return;
            }

            folded = window.Folded;
            window.Folded = 0;
            window.LastLogged = now;
        }

        var cause = exception is StoreUnavailableException { InnerException: { } inner } ? inner : exception;
        StoreUnavailable(_logger, operation, reason, cause.GetType().Name, cause.Message, folded);
    }

    [LoggerMessage(70, LogLevel.Warning, "The store could not serve {Operation} in time ({Reason}: {ErrorType}: {Error}); the request was answered 503 overloaded_error ({Folded} more like it since the last such line). See docs/deploy.md, sizing the connections.")]
    private static partial void StoreUnavailable(ILogger logger, string operation, string reason, string errorType, string error, long folded);

    private sealed class LogWindow
    {
        public long LastLogged;
        public long Folded;
    }
}
