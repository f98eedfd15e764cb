using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Catalog;
using ModelMix.Ledger;
using ModelMix.Pricing;
using Polly;
using Polly.Retry;

namespace ModelMix.Server;

/// <summary>
/// The send step, the proxy's counterpart of YARP's <c>HttpForwarder</c>: sends one <see cref="CallContext"/> to the
/// upstream's <c>/v1/messages</c> (its body bytes unchanged, the client's version, beta and query forwarded, the
/// upstream key added), retries what is retryable on the same model (Polly, <c>ModelMix:Fallback:MaxRetriesPerModel</c>),
/// reads a buffered answer or checks a stream's first event, and records every attempt through <see cref="AttemptLedger"/>.
/// The pipeline (for every door: /v1/messages and the OpenAI endpoints) sends through it, by way of the fallback step, and the cascade sends its tiers through it; batches share its named
/// HttpClient (<see cref="HttpClientName"/>).
/// </summary>
/// <remarks>
/// Its log category stays <c>ModelMix.Server.MessagesForwarder</c> (the one operators filter on before the split).
/// </remarks>
internal sealed class UpstreamSender : IDisposable
{
    /// <summary>The named HttpClient used for upstream calls.</summary>
    public const string HttpClientName = "modelmix-upstream";

    /// <summary>The User-Agent of every upstream call.</summary>
    public static readonly string UserAgent = ModelMix.Hosting.ModelMixVersion.UserAgent;

    private static readonly HashSet<string> RelayedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "request-id", "retry-after", "x-should-retry",
    };

    private readonly HttpMessageInvoker _upstream;
    private readonly Uri _messagesUri;
    private readonly ProxyOptions _options;
    private readonly AttemptLedger _ledger;
    private readonly TimeProvider _time;
    private readonly ILogger<MessagesForwarder> _logger;
    private readonly ResiliencePipeline<UpstreamResult>? _retry; // null when MaxRetries = 0
    private readonly ProxyCooldowns _cooldowns; // shared 429/529 cooldowns (ProxyCooldowns.cs)
    private readonly AttemptTimeouts _timeouts = new(); // each attempt's timeout, linked to the client's abort (pooled sources)
    private readonly ProxyIntents _intents; // the attempt intent journal (ProxyIntents.cs, docs/ledger.md "Crash consistency")

    public UpstreamSender(IHttpMessageHandlerFactory handlers, IOptions<ProxyOptions> options, AttemptLedger ledger, ProxyFallback fallback, ProxyCooldowns cooldowns, ProxyIntents intents, TimeProvider time, ILogger<MessagesForwarder> logger)
    {
        _intents = intents;
        _cooldowns = cooldowns;
        _ledger = ledger;
        // One invoker over the named client's handler for the proxy's lifetime: its SocketsHttpHandler pools
        // connections and renews them every PooledConnectionLifetime (DNS changes are seen). An invoker, not an
        // HttpClient: the per-attempt timeout below is the only cancellation source, where HttpClient would link
        // another one (and track the request) on every call.
        _upstream = new HttpMessageInvoker(handlers.CreateHandler(HttpClientName), disposeHandler: false);
        _options = options.Value;
        _messagesUri = new Uri(_options.Upstream, "v1/messages");
        _time = time;
        _logger = logger;
        // Polly refuses a retry strategy with zero attempts, so MaxRetriesPerModel = 0 means no strategy at all.
        _retry = fallback.MaxRetriesPerModel == 0 ? null : new ResiliencePipelineBuilder<UpstreamResult> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<UpstreamResult>
            {
                MaxRetryAttempts = fallback.MaxRetriesPerModel, // ModelMix:Fallback:MaxRetriesPerModel, as in the library
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.RetryBaseDelay,
                MaxDelay = _options.MaxRetryDelay,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } exception ? IsRetryable(exception) : args.Outcome.Result is { } result && IsRetryable(result)),
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result?.RetryAfter),
                OnRetry = args =>
                {
                    // Stryker disable once Statement : equivalent (docs/testing.md, twelfth session, proxy-retry): UpstreamResult.Dispose releases only an open stream, and a result the pipeline retries or holds unreplayed is retryable, which an open stream never is
                    args.Outcome.Result?.Dispose();
                    return default;
                },
            })
            .Build();
    }

    /// <summary>Releases the invoker (the handler belongs to the handler factory).</summary>
    public void Dispose() => _upstream.Dispose();

    /// <summary>Sends <paramref name="call"/> with the retry pipeline; <paramref name="attempts"/> numbers its attempts on from the request's earlier ones.</summary>
    /// <remarks>The call's <see cref="CallContext.Watch"/> is required: its attempts run under the watch's token.</remarks>
    public Task<UpstreamResult> SendAsync(CallContext call, StrongBox<int> attempts) =>
        SendWithRetriesAsync(call, attempts, call.Watch!);

    /// <summary>
    /// Answers a request whose upstream could not be reached (an <see cref="HttpRequestException"/>: 502) or did not
    /// answer in time (an <see cref="UpstreamTimeoutException"/>: 504), in <paramref name="dialect"/>'s error shape.
    /// </summary>
    public Task WriteFailureAsync(HttpContext context, Exception failure, IClientDialect dialect, string requestId) =>
        failure is UpstreamTimeoutException
            ? dialect.WriteErrorAsync(context, 504, $"The upstream API did not answer within {_options.UpstreamTimeout}.", "api_error", requestId)
            : dialect.WriteErrorAsync(context, 502, $"ModelMix could not reach the upstream API: {failure.Message}", "api_error", requestId);

    /// <summary>Whether the retry pipeline retries an attempt that threw <paramref name="exception"/>.</summary>
    private static bool IsRetryable(Exception exception) => exception is HttpRequestException or UpstreamTimeoutException;

    /// <summary>Whether the retry pipeline retries <paramref name="result"/>: a retryable status whose retry-after (if any) is within the longest wait.</summary>
    private bool IsRetryable(UpstreamResult result) => ModelMix.Pipeline.FallbackChain.ShouldRetry(result.Retryable, result.RetryAfter, _options.MaxRetryDelay);

    /// <summary>
    /// Sends <paramref name="call"/> with retries, numbering its attempts on from <paramref name="attempts"/> (which
    /// counts them, also when the last one throws). The first attempt goes out directly, and only an outcome the retry
    /// pipeline would retry enters it (the pipeline is handed that first outcome, so its back-off and attempt count
    /// are exactly as if it had sent it).
    /// </summary>
    /// <remarks>
    /// Attempts run under <paramref name="watch"/>'s upstream token, so one in flight when the client leaves finishes and
    /// is recorded; no attempt starts after the client left, and the back-off between attempts ends when it leaves
    /// (the pipeline runs under the client's token).
    /// </remarks>
    private async Task<UpstreamResult> SendWithRetriesAsync(CallContext call, StrongBox<int> attempts, ClientHangups.CallWatch watch)
    {
        // A client that left before the first attempt (during routing, a paid classification, a hold) is owed nothing: no
        // call is started for it (the fallback step and the cascade end the request on this cancellation).
        watch.Client.ThrowIfCancellationRequested();

        if (_retry is null)
        {
            return await SendOnceAsync(call, ++attempts.Value, watch.Token);
        }

        Outcome<UpstreamResult> first;
        try
        {
            var result = await SendOnceAsync(call, ++attempts.Value, watch.Token);
            if (!IsRetryable(result) || watch.ClientGone)
            {
                return result;
            }

            first = Outcome.FromResult(result);
        }
        catch (Exception exception) when (IsRetryable(exception) && !watch.ClientGone)
        {
            first = Outcome.FromException<UpstreamResult>(exception);
        }

        var state = new RetryState(this, call, first, attempts, watch);
        try
        {
            return await _retry.ExecuteAsync(static (retry, _) => retry.NextAsync(), state, watch.Client);
        }
        catch (OperationCanceledException)
        {
            // Stryker disable once Statement : equivalent (docs/testing.md, twelfth session, proxy-retry): UpstreamResult.Dispose releases only an open stream, and a result the pipeline retries or holds unreplayed is retryable, which an open stream never is
            state.DisposeUnreplayed(); // the client left before the pipeline replayed the first outcome
            throw;
        }
    }

    /// <summary>The retry pipeline's callback state: its first call replays the attempt already made, later calls send anew.</summary>
    private sealed class RetryState(UpstreamSender sender, CallContext call, Outcome<UpstreamResult> first, StrongBox<int> attempts, ClientHangups.CallWatch watch)
    {
        private bool _replayed;

        public ValueTask<UpstreamResult> NextAsync()
        {
            if (!_replayed)
            {
                _replayed = true;
                first.ThrowIfException();
                return ValueTask.FromResult(first.Result!);
            }

            // Not the pipeline's token (the client's): an attempt the client leaves during runs on and is recorded.
            // Stryker disable once Statement : equivalent (docs/testing.md, twelfth session, proxy-retry): Polly checks the same token before each callback; only a cancellation between its check and this one tells them apart
            watch.Client.ThrowIfCancellationRequested();
            return sender.SendOnceAsync(call, ++attempts.Value, watch.Token);
        }

        // Stryker disable once Block : equivalent (docs/testing.md, proxy-retry): the body's only work is the disposal marked below, which releases nothing
        public void DisposeUnreplayed()
        {
            // Stryker disable once Boolean,Statement,Block : equivalent (docs/testing.md, twelfth session, proxy-retry): UpstreamResult.Dispose releases only an open stream, and a result the pipeline retries or holds unreplayed is retryable, which an open stream never is
            if (!_replayed)
            {
                _replayed = true;
                first.Result?.Dispose();
            }
        }
    }

    /// <param name="call">The call.</param>
    /// <param name="attempt">The attempt's number.</param>
    /// <param name="upstream">The upstream token (<see cref="ClientHangups.CallWatch.Token"/>): cancelled only when the proxy stops the call of a client that left.</param>
    private async ValueTask<UpstreamResult> SendOnceAsync(CallContext call, int attempt, CancellationToken upstream)
    {
        var startedAt = _time.GetUtcNow();
        var attemptId = LedgerIds.New(startedAt);

        // Before anything is sent: the attempt's intent is durable (group-committed with other requests' intents), so
        // a crash from here on leaves an outcome_unknown record rather than an upstream call the ledger never saw.
        if (_intents.Enabled)
        {
            await _intents.RegisterAsync(_ledger.Intent(call, attemptId, attempt, startedAt), CancellationToken.None);
        }

        var started = _time.GetTimestamp();
        using var timeout = _timeouts.Start(_options.UpstreamTimeout, upstream);

        HttpResponseMessage response;
        try
        {
            // An invoker returns once the headers are in (the body is read below, or relayed as a stream).
            response = await _upstream.SendAsync(BuildRequest(call), timeout.Token);
        }
        catch (HttpRequestException exception)
        {
            await _ledger.RecordFailureAsync(call, attemptId, attempt, startedAt, started, 0, "upstream_unreachable", LedgerStatus.Failed);
            Log.AttemptFailed(_logger, attempt, call.RequestId, call.Route.Model, "upstream_unreachable: " + exception.Message, 0);
            throw;
        }
        catch (OperationCanceledException exception) when (!upstream.IsCancellationRequested)
        {
            await _ledger.RecordFailureAsync(call, attemptId, attempt, startedAt, started, 0, "upstream_timeout", LedgerStatus.Failed);
            Log.AttemptFailed(_logger, attempt, call.RequestId, call.Route.Model, "upstream_timeout", 0);
            throw new UpstreamTimeoutException($"The upstream did not answer within {_options.UpstreamTimeout}.", exception);
        }
        catch (OperationCanceledException)
        {
            await _ledger.RecordStoppedAsync(call, attemptId, attempt, startedAt, started, 0, null); // stopped for a client that left: billed as an estimate
            throw;
        }

        var status = (int)response.StatusCode;
        var headers = RelayableHeaders(response);
        var retryAfter = ParseRetryAfter(response.Headers.RetryAfter);
        var isStream = call.Request.Stream && status == 200 && response.Content.Headers.ContentType?.MediaType == "text/event-stream";
        if (isStream)
        {
            // Nothing reached the client yet: a stream whose first event is malformed or missing is a failed, retryable
            // attempt (StreamStart.cs), not broken bytes relayed. A broken connection or the timeout here is retried too.
            bool wellFormed;
            try
            {
                wellFormed = await StreamStart.PeekFirstEventAsync(response, timeout.Token);
            }
            catch (Exception exception) when (exception is HttpRequestException or IOException || (exception is OperationCanceledException && !upstream.IsCancellationRequested))
            {
                wellFormed = false;
            }
            catch (OperationCanceledException)
            {
                response.Dispose();
                await _ledger.RecordStoppedAsync(call, attemptId, attempt, startedAt, started, status, HeaderValue(headers, "request-id"));
                throw;
            }

            if (!wellFormed)
            {
                response.Dispose();
                await _ledger.RecordFailureAsync(call, attemptId, attempt, startedAt, started, status, "malformed_upstream_response", LedgerStatus.Error, HeaderValue(headers, "request-id"));
                Log.AttemptFailed(_logger, attempt, call.RequestId, call.Route.Model, "malformed_upstream_response", status);
                return new UpstreamResult
                {
                    Attempt = attempt,
                    AttemptId = attemptId,
                    Status = 502,
                    Body = AnthropicError.Body("api_error", "The upstream API returned a malformed event stream.", call.RequestId),
                    Headers = [new("content-type", "application/json")],
                    Retryable = true,
                    StartedAt = startedAt,
                    StartedTimestamp = started,
                };
            }

            return new UpstreamResult
            {
                Attempt = attempt,
                    AttemptId = attemptId,
                Status = status,
                OpenStream = response,
                Headers = headers,
                StartedAt = startedAt,
                StartedTimestamp = started,
            };
        }

        byte[] body;
        try
        {
            body = await ReadAnswerAsync(response.Content, timeout.Token, _options.MaxAnswerBytes);
        }
        catch (AnswerTooLargeException)
        {
            // A misbehaving upstream: the answer is dropped unread (the connection with it), the attempt is billed its
            // worst case (no usage could be read) and fails without a retry: another attempt would only do the same.
            response.Dispose();
            Log.AttemptFailed(_logger, attempt, call.RequestId, call.Route.Model, "answer_too_large", status);
            await _ledger.RecordAsync(call, _ledger.NewRecord(call, attemptId, attempt, startedAt, started, status, HeaderValue(headers, "request-id"), usage: UsageEstimate.Unanswered(call.Body, call.Request.MaxTokens)) with
            {
                Status = LedgerStatus.Error,
                ErrorType = "answer_too_large",
                UsageEstimated = true,
            });
            return new UpstreamResult
            {
                Attempt = attempt,
                    AttemptId = attemptId,
                Status = 502,
                Body = AnthropicError.Body("api_error", $"The upstream answer was larger than ModelMix:MaxAnswerBytes ({_options.MaxAnswerBytes} bytes).", call.RequestId),
                Headers = [new("content-type", "application/json")],
                StartedAt = startedAt,
                StartedTimestamp = started,
            };
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException || (exception is OperationCanceledException && !upstream.IsCancellationRequested))
        {
            response.Dispose();
            await _ledger.RecordFailureAsync(call, attemptId, attempt, startedAt, started, status, "upstream_body_lost", LedgerStatus.Failed);
            throw new HttpRequestException("The upstream connection broke while its answer was read.", exception);
        }
        catch (OperationCanceledException)
        {
            response.Dispose();
            await _ledger.RecordStoppedAsync(call, attemptId, attempt, startedAt, started, status, HeaderValue(headers, "request-id"));
            throw;
        }
        finally
        {
            if (!isStream)
            {
                response.Dispose();
            }
        }

        if (status is >= 200 and < 300)
        {
            if (!TryReadMessage(body, out var model, out var usage, out var thinkingDropped))
            {
                await _ledger.RecordFailureAsync(call, attemptId, attempt, startedAt, started, status, "malformed_upstream_response", LedgerStatus.Error);
                Log.AttemptFailed(_logger, attempt, call.RequestId, call.Route.Model, "malformed_upstream_response", status);
                return new UpstreamResult
                {
                    Attempt = attempt,
                    AttemptId = attemptId,
                    Status = 502,
                    Body = AnthropicError.Body("api_error", "The upstream API returned a malformed response.", call.RequestId),
                    Headers = [new("content-type", "application/json")],
                    Retryable = true,
                    StartedAt = startedAt,
                    StartedTimestamp = started,
                };
            }

            var record = await _ledger.RecordAnsweredAsync(call, attemptId, attempt, startedAt, started, status, HeaderValue(headers, "request-id"), model, usage, thinkingDropped);
            return new UpstreamResult { Attempt = attempt, AttemptId = attemptId, Status = status, Body = body, Headers = headers, StartedAt = startedAt, StartedTimestamp = started, Cost = record.Cost?.Total };
        }

        var errorType = ReadErrorType(body) ?? AnthropicError.TypeFor(status);
        await _cooldowns.NoteAsync(call.Route.Model, status, retryAfter);
        await _ledger.RecordFailureAsync(call, attemptId, attempt, startedAt, started, status, errorType, LedgerStatus.Error, HeaderValue(headers, "request-id"));
        Log.AttemptFailed(_logger, attempt, call.RequestId, call.Route.Model, errorType, status);
        return new UpstreamResult
        {
            Attempt = attempt,
            AttemptId = attemptId,
            Status = status,
            Body = body,
            Headers = headers,
            Retryable = status is 429 or 529 or >= 500,
            RetryAfter = retryAfter,
            StartedAt = startedAt,
            StartedTimestamp = started,
        };
    }

    /// <summary>
    /// Reads a buffered upstream answer. With a Content-Length (the API sends one) up to <see cref="ExactAnswerLimit"/>,
    /// into one array of exactly that size, straight from the connection: <see cref="HttpContent.ReadAsByteArrayAsync(CancellationToken)"/>
    /// first buffers into a growing stream, then copies (≈ 2.5 KB allocated per request for a 735-byte answer,
    /// docs/performance.md). Otherwise HttpClient's own buffering. An answer cut short throws an <see cref="IOException"/>.
    /// </summary>
    /// <exception cref="AnswerTooLargeException">The answer is (or announces itself as) longer than <paramref name="maxBytes"/>.</exception>
    internal static async ValueTask<byte[]> ReadAnswerAsync(HttpContent content, CancellationToken cancellationToken, long maxBytes = long.MaxValue)
    {
        if (content.Headers.ContentLength is { } announced && announced > maxBytes)
        {
            throw new AnswerTooLargeException();
        }

        if (content.Headers.ContentLength is not { } length || length > ExactAnswerLimit)
        {
            return await ReadBoundedAsync(content, maxBytes, cancellationToken);
        }

        var body = length == 0 ? [] : GC.AllocateUninitializedArray<byte>((int)length);
        await using var stream = content.ReadAsStream(cancellationToken); // the connection's stream, at hand: no task to wait for
        await stream.ReadExactlyAsync(body, cancellationToken);
        return body;
    }

    /// <summary>Reads an answer of unknown length, growing as it arrives, and gives up past <paramref name="maxBytes"/>.</summary>
    private static async ValueTask<byte[]> ReadBoundedAsync(HttpContent content, long maxBytes, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    throw new AnswerTooLargeException();
                }

                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.ToArray();
    }

    /// <summary>An upstream answer longer than <see cref="ProxyOptions.MaxAnswerBytes"/>.</summary>
    internal sealed class AnswerTooLargeException : Exception
    {
        public AnswerTooLargeException()
            : base("The upstream answer is larger than ModelMix:MaxAnswerBytes.")
        {
        }
    }

    /// <summary>The largest announced Content-Length read into an array allocated up front; a larger answer grows as it arrives.</summary>
    internal const long ExactAnswerLimit = 16 * 1024 * 1024;

    private HttpRequestMessage BuildRequest(CallContext call)
    {
        // A query string (Claude Code sends ?beta=true) goes upstream unchanged; the common request has none.
        var message = new HttpRequestMessage(HttpMethod.Post, call.Query is null ? _messagesUri : new Uri(_messagesUri.OriginalString + call.Query))
        {
            Content = new ByteArrayContent(call.Body),
            Version = HttpVersion.Version11,
        };
        message.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        message.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
        message.Headers.TryAddWithoutValidation("anthropic-version", call.AnthropicVersion);
        if (call.AnthropicBeta is not null)
        {
            message.Headers.TryAddWithoutValidation("anthropic-beta", call.AnthropicBeta);
        }

        if (_options.UpstreamApiKey is { Length: > 0 } key)
        {
            message.Headers.TryAddWithoutValidation("x-api-key", key);
        }

        if (call.Request.Stream)
        {
            message.Headers.Accept.ParseAdd("text/event-stream");
        }

        return message;
    }


    private static List<KeyValuePair<string, string>> RelayableHeaders(HttpResponseMessage response)
    {
        // NonValidated: the raw values as received, without parsing every header of every answer into typed values.
        var headers = new List<KeyValuePair<string, string>>(4);
        foreach (var (name, values) in response.Headers.NonValidated)
        {
            if (RelayedHeaders.Contains(name) || name.StartsWith("anthropic-ratelimit-", StringComparison.OrdinalIgnoreCase))
            {
                headers.Add(new(name.ToLowerInvariant(), values.ToString()));
            }
        }

        if (response.Content.Headers.NonValidated.TryGetValues("Content-Type", out var contentType))
        {
            headers.Add(new("content-type", contentType.ToString()));
        }

        return headers;
    }

    internal static string? HeaderValue(IReadOnlyList<KeyValuePair<string, string>> headers, string name)
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

    private TimeSpan? ParseRetryAfter(RetryConditionHeaderValue? header) => header switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - _time.GetUtcNow() is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero, // the proxy's clock, as the library's handler
        _ => null,
    };

    /// <summary>
    /// Reads the answer's <c>model</c> and <c>usage</c> with a forward-only reader (only the small usage object becomes
    /// a document); false when the body is not a well-formed JSON object.
    /// </summary>
    private static bool TryReadMessage(byte[] body, out string? model, out TokenUsage usage, out int thinkingDropped)
    {
        model = null;
        usage = default;
        thinkingDropped = 0;
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                // At depth 1 every token here is a property name; its value is read or skipped whole.
                if (reader.ValueTextEquals("model"u8))
                {
                    reader.Read();
                    model = reader.TokenType == JsonTokenType.String ? reader.GetString() : model;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        usage = AnthropicUsage.Read(ref reader); // on the way, no document built
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("input_transformations"u8))
                {
                    reader.Read();
                    thinkingDropped = InputTransformations.CountDroppedThinking(ref reader); // what the API dropped from the prompt
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            // Trailing bytes after the object make the body malformed.
            return !reader.Read();
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException or FormatException or ArgumentException)
        {
            return false;
        }
    }

    private static string? ReadErrorType(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
                && error.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                ? type.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

}
