using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelMix.Ledger;
using ModelMix.Telemetry;

namespace ModelMix.Server;

/// <summary>
/// Makes every error the proxy answers itself visible (a 4xx or 5xx it wrote, not one relayed from the upstream): one
/// log line per status and error type at most every <see cref="LogInterval"/> (with how many were folded into it),
/// <c>modelmix_refusals_total{status,type}</c> on <c>/metrics</c>, and — where the caller's key or session is known — a
/// ledger record with the status and no cost. Messages name models, keys' names and limits, never a secret.
/// </summary>
internal sealed partial class ProxyRefusals
{
    /// <summary>How often one kind of refusal (status and type) may be logged.</summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    private static readonly object ItemKey = new();

    private readonly ILogger<ProxyRefusals> _logger;
    private readonly AttemptRecorder _recorder;
    private readonly TimeProvider _time;
    private readonly Counter<long> _refusals;
    private readonly ConcurrentDictionary<(int Status, string Type), LogWindow> _windows = new();

    public ProxyRefusals(ILogger<ProxyRefusals> logger, AttemptRecorder recorder, TimeProvider time, IMeterFactory meters)
    {
        _logger = logger;
        _recorder = recorder;
        _time = time;
        _refusals = meters.Create(ModelMixMetrics.MeterName).CreateCounter<long>("modelmix.refusals", null, "Errors the proxy answered itself (not relayed from the upstream), by status and error type.");
    }

    /// <summary>Called by the proxy's error writers: counts and (rate-limited) logs one refusal. Cheap: only on the error path.</summary>
    public static void Observe(HttpContext context, int status, string type, string message)
    {
        context.Items[ItemKey] = new Refusal(status, type, message);
        context.RequestServices.GetService<ProxyRefusals>()?.Count(context, status, type, message);
    }

    /// <summary>The refusal the proxy wrote for this request, if any (set by <see cref="Observe"/>).</summary>
    public static Refusal? Of(HttpContext context) =>
        context.Items.TryGetValue(ItemKey, out var value) ? value as Refusal : null;

    /// <summary>
    /// Records a refusal in the ledger when a key or session is known (a status, no cost, no upstream call), so a
    /// caller's refused requests show in the ledger, the audit and the dashboard.
    /// </summary>
    public async ValueTask RecordAsync(string requestId, string? keyId, string? sessionId, string? taskLabel, string? model, int status, string type, string message)
    {
        if (keyId is null && sessionId is null)
        {
            return;
        }

        try
        {
            // Straight to the ledger: nothing was sent, so nothing is priced (zero) and no route or attempt is counted.
            await _recorder.Ledger.RecordAsync(new LedgerRecord
            {
                Cost = ModelMix.Pricing.CostBreakdown.Zero,
                Id = LedgerIds.New(_time),
                Timestamp = _time.GetUtcNow(),
                RequestId = requestId,
                KeyId = keyId,
                SessionId = sessionId,
                TaskLabel = taskLabel,
                RequestedModel = model ?? "(none)",
                RoutedModel = model ?? "(none)",
                Policy = "refused",
                Reason = message,
                Status = LedgerStatus.Error,
                ErrorType = "refused:" + type,
                HttpStatus = status,
            }, CancellationToken.None);

        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            RecordFailed(_logger, exception, requestId);
        }
    }

    private void Count(HttpContext context, int status, string type, string message)
    {
        _refusals.Add(1, new KeyValuePair<string, object?>("status", status), new("type", type));
        var now = _time.GetTimestamp();
        var window = _windows.GetOrAdd((status, type), static _ => new LogWindow());
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

        var requestId = context.Response.Headers[ProxyRequestId.HeaderName].ToString();
        Refused(_logger, context.Request.Method, context.Request.Path.Value ?? "/", status, type, message, requestId.Length > 0 ? requestId : "-", folded);
    }

    [LoggerMessage(60, LogLevel.Warning, "Refused {Method} {Path} with {Status} {Type}: {Message} (request {RequestId}; {Folded} more like it since the last such line).")]
    private static partial void Refused(ILogger logger, string method, string path, int status, string type, string message, string requestId, long folded);

    [LoggerMessage(61, LogLevel.Error, "Recording the refusal of request {RequestId} in the ledger failed.")]
    private static partial void RecordFailed(ILogger logger, Exception exception, string requestId);

    /// <summary>One error the proxy answered itself.</summary>
    public sealed record Refusal(int Status, string Type, string Message);

    private sealed class LogWindow
    {
        public long LastLogged;
        public long Folded;
    }
}
