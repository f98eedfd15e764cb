using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Anthropic.Exceptions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Budgets;
using ModelMix.Catalog;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;

namespace ModelMix.Server;

/// <summary>
/// The confidence cascade at the proxy (the <c>auto-cascade</c> alias, <see cref="ProxyCascadeSettings"/>), in verifier
/// mode so the client's body stays byte-faithful: the client's body, with only <c>model</c> rewritten, goes to the
/// cheapest tier; the verifier (the official SDK over the upstream, through the ledger stage) rates the answer 0..1
/// from the request's text and the answer's text; below the threshold the same body goes to the next tier. The client
/// gets the kept tier's answer bytes unchanged. Every answer and every rating is a ledger record of the same request.
/// </summary>
/// <remarks>
/// Streaming (<c>"stream": true</c>, sent upstream unchanged): a tier that could still escalate is read to its end
/// before anything reaches the client (its confidence is needed first); if it is kept, its events are replayed byte for
/// byte. The last tier the request can reach streams live, unrated. A failed verifier call counts as
/// <see cref="CascadeOptions.MissingConfidence"/> (0 by default: the request escalates). A tier that fails after the
/// sender's retries (429, 529, 5xx, a timeout, unreachable) escalates to the next tier with a reason that says so; the
/// last reachable tier's failure ends the request as a plain forward's would.
/// </remarks>
internal sealed partial class ProxyCascade
{
    private readonly ProxyCascadeSettings _settings;
    private readonly IChatClient _verifier;
    private readonly AttemptRecorder _recorder;
    private readonly BudgetGate _budgets;
    private readonly ProxyOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ProxyCascade> _logger;
    private readonly ChatResponseFormat _ratingFormat;
    private readonly ModelFit _fit;
    private readonly AttemptTimeouts _idleTimeouts = new(); // each buffered tier stream's idle clock
    private readonly ProxyRequestReader _reader;
    private readonly UpstreamSender _sender;
    private readonly AttemptLedger _ledger;
    private readonly AnswerRelay _relay;

    /// <summary>Creates the cascade; <paramref name="verifier"/> is the SDK over the upstream, wrapped with the ledger stage.</summary>
    public ProxyCascade(ProxyCascadeSettings settings, IChatClient verifier, AttemptRecorder recorder, BudgetGate budgets, IOptions<ProxyOptions> options, TimeProvider time, ILogger<ProxyCascade> logger, ProxyRequestReader reader, UpstreamSender sender, AttemptLedger ledger, AnswerRelay relay)
    {
        _reader = reader;
        _sender = sender;
        _ledger = ledger;
        _relay = relay;
        _settings = settings;
        _verifier = verifier;
        _recorder = recorder;
        _budgets = budgets;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _fit = new ModelFit(recorder.Prices, time);
        using var schema = JsonDocument.Parse("""
            {"type":"object","properties":{"confidence":{"type":"number"},"reason":{"type":"string"}},"required":["confidence","reason"],"additionalProperties":false}
            """);
        _ratingFormat = ChatResponseFormat.ForJsonSchema(schema.RootElement.Clone(), "answer_rating", "The probability that the answer is correct.");
    }

    /// <summary>The response header naming the tiers the request went through, e.g. <c>haiku-&gt;sonnet</c>.</summary>
    public const string PathHeader = "x-modelmix-cascade-path";

    /// <summary>The response header with the kept answer's rating (absent when it was not rated).</summary>
    public const string ConfidenceHeader = "x-modelmix-confidence";

    /// <summary>Whether <paramref name="model"/> is the cascade's alias.</summary>
    public bool Handles(string model) => string.Equals(model, _settings.Alias, StringComparison.OrdinalIgnoreCase);

    /// <summary>Runs the cascade for one checked request and writes the kept answer (or the failure) in <paramref name="dialect"/>.</summary>
    public async Task RunAsync(HttpContext context, string requestId, byte[] body, MessagesRequest request, IClientDialect dialect, AuthCaller caller, string? sessionId, string? taskLabel, ClientHangups.CallWatch watch)
    {
        var aborted = context.RequestAborted;
        var options = _settings.Options;
        var threshold = _settings.ThresholdFor(taskLabel);
        var reachable = _settings.ReachableTiers;
        var tiers = _fit.FitTargets(_settings.Tiers, request.Features, out var fitNote); // a tier that would reject the request stands for its fit

        // The hold covers the worst case: every tier the request can reach answering in full, plus every rating.
        await using var budget = await _budgets.ReserveAsync(
            context,
            caller,
            string.Join(", ", tiers.Take(reachable).Select(tier => tier.Model).Append(_settings.VerifierModel).Distinct()),
            (prices, at) => WorstCaseUsd(prices, at, body, request, tiers),
            sessionId,
            requestId,
            dialect);
        if (budget is null)
        {
            return;
        }

        var reason = string.Create(CultureInfo.InvariantCulture, $"cascade: first answer on {Describe(tiers[0])}; escalates below {threshold:0.00}{fitNote}");
        string? escalatedFrom = null;
        var attempts = new StrongBox<int>(0); // numbered on across tiers, retries and ratings
        var path = new List<string>();
        for (var tier = 0; ; tier++)
        {
            var (name, model) = tiers[tier];
            var final = tier == reachable - 1;
            path.Add(name);
            var route = new Route(model, options.PolicyName, reason, escalatedFrom);
            var call = _reader.NewCall(context, requestId, request, RequestBodyRewriter.ReplaceModel(body, model), route, sessionId, taskLabel, budget, watch);
            UpstreamResult? result = null;
            string? tierFailure = null;
            try
            {
                result = await _sender.SendAsync(call, attempts);
            }
            catch (Exception exception) when (exception is HttpRequestException or UpstreamTimeoutException)
            {
                if (final)
                {
                    await _sender.WriteFailureAsync(context, exception, dialect, requestId);
                    return;
                }

                tierFailure = exception is UpstreamTimeoutException ? $"did not answer within {_options.UpstreamTimeout}" : "could not be reached";
            }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested)
            {
                return;
            }

            if (watch.ClientGone && (result is null || result.FailedRetryably))
            {
                result?.Dispose(); // recorded; no further tier is paid for a client that left
                return;
            }

            // A tier that still fails after its retries (429, 529, 5xx, timeout, unreachable) does not end the request
            // while a stronger tier is left: the request escalates to it, as the fallback chain would move it on.
            if (result is null || (!final && result.FailedRetryably))
            {
                var failure = tierFailure ?? $"HTTP {result!.Status}";
                result?.Dispose();
                var nextTier = tiers[tier + 1].Name;
                reason = $"{name} failed ({failure}) → {nextTier}";
                escalatedFrom = model;
                Log.Escalated(_logger, requestId, reason);
                continue;
            }

            SetHeaders(context, model, path, confidence: null);

            // An error that outlived the retries, or the last reachable tier's stream: relayed as a plain forward relays it.
            if (result.Status is < 200 or >= 300 || (final && result.OpenStream is not null))
            {
                await _relay.RelayAsync(context, call, result, dialect);
                return;
            }

            using (result)
            {
                ProxyCascadeAnswer answer;
                byte[]? events = null;
                if (result.OpenStream is { } stream)
                {
                    var (read, failed, cut) = await BufferStreamAsync(call, result, stream, watch);
                    if (watch.ClientGone)
                    {
                        return; // the tier's stream was read to its end and recorded; nothing more is paid for
                    }

                    events = read;
                    if (failed)
                    {
                        // An error event or a cut stream is not an answer to rate: the client gets it as a plain forward would.
                        await ReplayStreamAsync(context, result, events, dialect, cut);
                        return;
                    }

                    answer = ProxyCascadeAnswer.FromStream(events);
                }
                else
                {
                    answer = ProxyCascadeAnswer.FromMessage(result.Body);
                }

                double? confidence = null;
                string? verifierFailure = null;
                if (!answer.IsToolCall && (!final || options.VerifyFinalAnswer) && !watch.ClientGone)
                {
                    try
                    {
                        (confidence, verifierFailure) = await VerifyAsync(request, answer.Text, name, requestId, ++attempts.Value, taskLabel, sessionId, budget, watch.Token);
                    }
                    catch (OperationCanceledException) when (watch.Token.IsCancellationRequested)
                    {
                        return;
                    }
                }

                if (watch.ClientGone)
                {
                    return; // every call made is recorded; no further tier is paid for a client that left
                }

                // A tool call is a step of the client's agent loop, not an answer to rate: it stays on its tier.
                if (final || answer.IsToolCall || (confidence ?? options.MissingConfidence) >= threshold)
                {
                    SetHeaders(context, model, path, confidence);
                    if (events is not null)
                    {
                        await ReplayStreamAsync(context, result, events, dialect, cut: null);
                    }
                    else
                    {
                        await dialect.WriteBufferedAsync(context, result, requestId);
                    }

                    return;
                }

                var next = tiers[tier + 1].Name;
                reason = confidence is { } rated
                    ? string.Create(CultureInfo.InvariantCulture, $"confidence {rated:0.00} < {threshold:0.00} on {name} → {next}")
                    : verifierFailure is not null
                        ? string.Create(CultureInfo.InvariantCulture, $"verifier failed ({verifierFailure}), counted as {options.MissingConfidence:0.00} < {threshold:0.00} on {name} → {next}")
                        : string.Create(CultureInfo.InvariantCulture, $"no confidence (counted as {options.MissingConfidence:0.00}) < {threshold:0.00} on {name} → {next}");
                escalatedFrom = model;
                Log.Escalated(_logger, requestId, reason);
            }
        }
    }

    /// <summary>Asks the verifier to rate an answer; the rating (null when missing or the call failed) and why it failed.</summary>
    private async Task<(double? Confidence, string? Failure)> VerifyAsync(MessagesRequest request, string answer, string tierName, string requestId, int attempt, string? taskLabel, string? sessionId, BudgetHold budget, CancellationToken aborted)
    {
        ProxyIntents.UseReservationForSdkCalls(budget.Reservation?.Id); // the verifier call's intent counts against the hold
        var options = _settings.Options;
        var reason = $"verifier on {Describe((_settings.VerifierName, _settings.VerifierModel))}: rating the answer of {tierName}";
        var chatOptions = new ChatOptions { ModelId = _settings.VerifierModel, MaxOutputTokens = options.VerifierMaxOutputTokens, ResponseFormat = _ratingFormat }
            .SetRequestId(requestId)
            .SetAttempt(attempt)
            .SetRequestedModel(request.Model)
            .SetRouting(options.PolicyName, reason)
            .SetTaskLabel(taskLabel)
            .SetSessionId(sessionId)
            .SetKeyId(budget.KeyId);
        var prompt = $"Request:\n{Clip(request.Features.Text.ToString())}\n\nAnswer:\n{Clip(answer)}";
        List<ChatMessage> messages = [new(ChatRole.System, options.VerifierPrompt), new(ChatRole.User, prompt)];
        var startedAt = _time.GetUtcNow();
        ChatResponse response;
        try
        {
            response = await _verifier.GetResponseAsync(messages, chatOptions, aborted);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !aborted.IsCancellationRequested)
        {
            // The ledger stage has recorded the failed call; an error answer costs nothing, so nothing is charged.
            var failure = exception is AnthropicApiException api ? $"HTTP {(int)api.StatusCode}" : exception.GetType().Name;
            Log.VerifierFailed(_logger, requestId, failure);
            return (null, failure);
        }

        // The ledger stage recorded (and priced) this call; the budget hold is charged the same price.
        budget.ChargeSdkCall(_recorder, _settings.VerifierModel, response, startedAt);
        return (Routing.CascadeConfidenceParser.TryParseRating(response.Text, out var rating) ? rating : null, null);
    }

    /// <summary>
    /// Reads a tier's stream to its end (its confidence is needed before the client sees it) and records the attempt.
    /// It runs under the watch's upstream token: a client that leaves meanwhile does not stop the read (the API bills
    /// the stream), and an idle upstream is cut after <see cref="ProxyOptions.StreamIdleTimeout"/> as a relayed one is.
    /// </summary>
    private async Task<(byte[] Events, bool Failed, string? Cut)> BufferStreamAsync(CallContext call, UpstreamResult result, HttpResponseMessage upstream, ClientHangups.CallWatch watch)
    {
        using var buffer = new MemoryStream();
        string? cut = null;
        var stopped = false;
        var stalled = false;
        var tooLarge = false;
        var chunk = new byte[16384];
        using var idle = _idleTimeouts.Start(_options.StreamIdleTimeout, watch.Token);
        try
        {
            await using var source = await upstream.Content.ReadAsStreamAsync(idle.Token);
            int read;
            while ((read = await source.ReadAsync(chunk, idle.Token)) > 0)
            {
                idle.Restart(_options.StreamIdleTimeout);
                if (buffer.Length + read > _options.MaxAnswerBytes)
                {
                    tooLarge = true;
                    cut = $"the upstream stream was larger than ModelMix:MaxAnswerBytes ({_options.MaxAnswerBytes} bytes)";
                    break; // a misbehaving upstream is not held in memory
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (OperationCanceledException) when (watch.Token.IsCancellationRequested)
        {
            stopped = true; // the proxy's orphan limit stopped the call of a client that left
        }
        catch (OperationCanceledException)
        {
            stalled = true;
            cut = $"the upstream sent nothing for {_options.StreamIdleTimeout}";
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException)
        {
            cut = "the upstream connection broke: " + exception.Message;
        }

        var events = buffer.ToArray();
        var tap = new SseUsageTap();
        tap.Observe(events);
        if (!stopped && cut is null && !tap.Completed && tap.ErrorType is null)
        {
            cut = "the upstream closed the stream early";
        }

        var usage = tap.UsageOrEstimate(out var estimated);
        var record = await _recorder.RecordAsync(_ledger.NewRecord(call, result) with
        {
            UpstreamRequestId = HeaderValue(result.Headers, "request-id"),
            ResponseModel = tap.Model,
            Usage = usage,
            UsageEstimated = estimated,
            ClientDisconnected = watch.ClientGone,
            Streaming = true,
            Status = tap.ErrorType is not null || cut is not null ? LedgerStatus.Error : stopped ? LedgerStatus.Failed : LedgerStatus.Ok,
            ErrorType = tap.ErrorType ?? (stalled ? "stream_idle_timeout" : tooLarge ? "answer_too_large" : cut is not null ? "stream_cut" : stopped ? "client_disconnected" : null),
        }, CancellationToken.None);
        call.Budget.Charge(record);
        return (events, tap.ErrorType is not null || cut is not null || stopped, cut);
    }

    /// <summary>Replays a stream read to its end, byte for byte (or through the dialect's translator), ending a cut one with an error event.</summary>
    private static async Task ReplayStreamAsync(HttpContext context, UpstreamResult result, byte[] events, IClientDialect dialect, string? cut)
    {
        var response = AnswerRelay.StartStreamResponse(context, result);
        var translator = dialect.CreateStreamTranslator();
        try
        {
            if (translator is null)
            {
                await response.Body.WriteAsync(events, context.RequestAborted);
            }
            else
            {
                var translated = new ArrayBufferWriter<byte>(events.Length + 1024);
                translator.Translate(events, translated);
                await response.Body.WriteAsync(translated.WrittenMemory, context.RequestAborted);
            }

            if (cut is not null)
            {
                var message = "The upstream stream ended unexpectedly (" + cut + "); the answer is incomplete.";
                await response.Body.WriteAsync(translator?.ErrorEvent("api_error", message) ?? AnthropicError.StreamEvent("api_error", message), context.RequestAborted);
            }

            await response.Body.FlushAsync(context.RequestAborted);
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException)
        {
            // The client left; every attempt is already in the ledger.
        }
    }

    /// <summary>The worst case of one cascade request: each reachable tier's <see cref="BudgetEstimator"/> worst case, plus each rating's.</summary>
    private decimal WorstCaseUsd(PriceBook prices, DateTimeOffset at, byte[] body, MessagesRequest request, IReadOnlyList<(string Name, string Model)> tiers)
    {
        var options = _settings.Options;
        var reachable = _settings.ReachableTiers;
        var total = 0m;
        for (var tier = 0; tier < reachable; tier++)
        {
            var model = tiers[tier].Model;
            total += BudgetEstimator.WorstCaseUsd(prices, model, RequestBodyRewriter.ReplaceModel(body, model), request.MaxTokens, at);
        }

        var ratings = reachable - 1 + (options.VerifyFinalAnswer && !request.Stream ? 1 : 0);
        if (ratings > 0)
        {
            // The verifier sees its prompt, the request's text and the answer, each clipped to VerifierMaxChars (at most
            // 3 UTF-8 bytes a char), estimated like BudgetEstimator at one token per 4 bytes; it writes at most VerifierMaxOutputTokens.
            var requestText = request.Features.Text.ToString();
            var inputBytes = Encoding.UTF8.GetByteCount(options.VerifierPrompt) + 64
                + Math.Min(Encoding.UTF8.GetByteCount(requestText), (long)options.VerifierMaxChars * 3) + 64
                + ((long)options.VerifierMaxChars * 3);
            total += ratings * BudgetEstimator.PromptWorstCaseUsd(prices, _settings.VerifierModel, inputBytes, options.VerifierMaxOutputTokens, at);
        }

        return total;
    }

    private static void SetHeaders(HttpContext context, string model, List<string> path, double? confidence)
    {
        var headers = context.Response.Headers;
        headers["x-modelmix-routed-model"] = model;

        // Header values stay ASCII (Kestrel refuses others), so the path reads "haiku->sonnet" rather than with an arrow.
        headers[PathHeader] = string.Join("->", path);
        if (confidence is { } rated)
        {
            headers[ConfidenceHeader] = rated.ToString("0.00", CultureInfo.InvariantCulture);
        }
        else
        {
            headers.Remove(ConfidenceHeader);
        }
    }

    private string Clip(string text) =>
        text.Length <= _settings.Options.VerifierMaxChars ? text : string.Concat(text.AsSpan(0, _settings.Options.VerifierMaxChars), " […truncated]");

    private static string Describe((string Name, string Model) target) =>
        string.Equals(target.Name, target.Model, StringComparison.Ordinal) ? target.Model : $"{target.Name} ({target.Model})";

    private static string? HeaderValue(IReadOnlyList<KeyValuePair<string, string>> headers, string name)
    {
        foreach (var (key, value) in headers)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        return null;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "Request {RequestId}: cascade escalates: {Reason}")]
        public static partial void Escalated(ILogger logger, string requestId, string reason);

        [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "Request {RequestId}: the cascade's verifier call failed ({Failure}); the answer counts as unrated")]
        public static partial void VerifierFailed(ILogger logger, string requestId, string failure);
    }
}
