using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Budgets;
using ModelMix.Catalog;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Routing;
using Polly;
using Polly.Retry;

namespace ModelMix.Server;

/// <summary>
/// Serves <c>POST /v1/messages</c>: checks the body, forwards its bytes unchanged to the upstream, retries what is
/// retryable before any byte reached the client, relays the answer (streams event by event), and records every
/// attempt, priced, in the ledger.
/// </summary>
internal sealed class MessagesForwarder : IDisposable
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
    private readonly AttemptRecorder _recorder;
    private readonly TimeProvider _time;
    private readonly ILogger<MessagesForwarder> _logger;
    private readonly ResiliencePipeline<UpstreamResult>? _retry; // null when MaxRetries = 0
    private readonly ProxyRouter _router;
    private readonly ProxyFallback _fallback;
    private readonly ProxyLoopGuard _loopGuard;
    private readonly TierDriftMonitor? _drift;
    private readonly AuthGate _auth;
    private readonly BudgetGate _budgets;
    private readonly ProxyCooldowns _cooldowns; // shared 429/529 cooldowns (ProxyCooldowns.cs)
    private readonly ProxyPromptCaching? _caching;
    private readonly AttemptTimeouts _timeouts = new(); // each attempt's timeout, linked to the client's abort (pooled sources)
    // Singletons taken from the root provider when first needed (the cascade builds its SDK client then; shadow mode
    // exists only when configured). Not through HttpContext.RequestServices, which opens a DI scope per request.
    private readonly Lazy<ProxyCascade?> _cascade;
    private readonly Lazy<ProxyShadow?> _shadow;
    private readonly Lazy<BatchEndpoints> _batches;
    private readonly Lazy<ProxyRefusals?> _refusals;
    private readonly ClientHangups _hangups;
    private readonly ProxyIntents _intents; // the attempt intent journal (ProxyIntents.cs, docs/ledger.md "Crash consistency")

    public MessagesForwarder(IHttpMessageHandlerFactory handlers, IOptions<ProxyOptions> options, AttemptRecorder recorder, ProxyRouter router, ProxyFallback fallback, ProxyLoopGuard loopGuard, ProxyGuards guards, AuthGate auth, BudgetGate budgets, TimeProvider time, ILogger<MessagesForwarder> logger, ProxyCooldowns cooldowns, IServiceProvider services, ClientHangups hangups, ProxyIntents intents, ProxyPromptCaching? caching = null)
    {
        _hangups = hangups;
        _intents = intents;
        _cascade = new(() => services.GetService<ProxyCascade>());
        _refusals = new(() => services.GetService<ProxyRefusals>());
        _shadow = new(() => services.GetService<ProxyShadow>());
        _batches = new(services.GetRequiredService<BatchEndpoints>);
        _cooldowns = cooldowns;
        _caching = caching;
        _fallback = fallback;
        _loopGuard = loopGuard;
        _drift = guards.TierDrift;
        _auth = auth;
        _budgets = budgets;
        _router = router;
        // One invoker over the named client's handler for the proxy's lifetime: its SocketsHttpHandler pools
        // connections and renews them every PooledConnectionLifetime (DNS changes are seen). An invoker, not an
        // HttpClient: the per-attempt timeout below is the only cancellation source, where HttpClient would link
        // another one (and track the request) on every call.
        _upstream = new HttpMessageInvoker(handlers.CreateHandler(HttpClientName), disposeHandler: false);
        _options = options.Value;
        _messagesUri = new Uri(_options.Upstream, "v1/messages");
        _recorder = recorder;
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
                    args.Outcome.Result?.Dispose();
                    return default;
                },
            })
            .Build();
    }

    /// <summary>The client's query string to forward upstream unchanged (e.g. Claude Code's <c>?beta=true</c>), or null.</summary>
    internal static string? QueryOf(HttpContext context) =>
        context.Request.QueryString is { HasValue: true } query && query.Value!.Length > 1 ? query.Value : null;

    /// <summary>
    /// Records the refusal just written for this request (<see cref="ProxyRefusals"/>) in the ledger, with the caller's
    /// key and session: a refused request is visible where its spend would be.
    /// </summary>
    private ValueTask RecordRefusalAsync(HttpContext context, string requestId, AuthCaller caller, string? model, string? taskLabel = null) =>
        ProxyRefusals.Of(context) is { } refusal && _refusals.Value is { } refusals
            ? refusals.RecordAsync(requestId, caller.KeyId, ProxySession.Of(context.Request), taskLabel, model, refusal.Status, refusal.Type, refusal.Message)
            : ValueTask.CompletedTask;

    /// <summary>Releases the invoker (the handler belongs to the handler factory).</summary>
    public void Dispose() => _upstream.Dispose();

    /// <summary>Handles one <c>POST /v1/messages</c> request.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var requestId = ProxyRequestId.New();
        context.Response.Headers["x-modelmix-request-id"] = requestId;

        // Virtual keys (AuthGate): authenticate before the body is read; null means a 401 was written.
        var caller = await _auth.AuthenticateAsync(context, requestId, AnthropicDialect.Instance);
        if (caller is null)
        {
            return;
        }

        var body = await ReadBodyAsync(context, AnthropicDialect.Instance);
        if (body is null)
        {
            await RecordRefusalAsync(context, requestId, caller, model: null);
            return;
        }

        if (!MessagesRequest.TryParse(body, out var request, out var error))
        {
            await AnthropicError.WriteAsync(context, 400, error!, requestId: requestId);
            await RecordRefusalAsync(context, requestId, caller, model: null);
            return;
        }

        (body, request) = _router.WithCatalogName(body, request!); // one spelling per model (CLAUDE-HAIKU-4-5 → claude-haiku-4-5)

        if (BatchEndpoints.Wants(context))
        {
            // x-modelmix-batch: true — queued for the Message Batches API, answered 202 with the job (BatchEndpoints.cs).
            await _batches.Value.EnqueueSingleAsync(context, requestId, body, request!, caller);
            return;
        }

        await ForwardAsync(context, requestId, body, request!, AnthropicDialect.Instance, caller);
    }

    /// <summary>Authenticates the caller's virtual key (see <see cref="AuthGate"/>); null after a 401 was written in <paramref name="dialect"/>'s shape.</summary>
    internal ValueTask<AuthCaller?> AuthenticateAsync(HttpContext context, string requestId, IClientDialect dialect) =>
        _auth.AuthenticateAsync(context, requestId, dialect);

    /// <summary>
    /// Routes a checked Anthropic Messages body, sends it upstream with retries, records every attempt, and writes
    /// the answer to the client in <paramref name="dialect"/>'s API (the Anthropic bytes as they came, or translated).
    /// </summary>
    /// <remarks>
    /// <c>held</c> is the budget hold taken before routing when the alias's policy pays for a routing call
    /// (<see cref="ProxyRoutingCall"/>); it is null otherwise, and the hold is taken after routing, for the routed model.
    /// </remarks>
    internal async Task ForwardAsync(HttpContext context, string requestId, byte[] body, MessagesRequest request, IClientDialect dialect, AuthCaller caller, BudgetHold? held = null, ClientHangups.CallWatch? watched = null)
    {
        // Upstream calls run under the watch's token, not the client's: a client that hangs up does not cancel a call
        // it has started, which is billed all the same (ClientHangups.cs); the client's token only stops writes to it.
        using var ownWatch = watched is null ? _hangups.Watch(context.RequestAborted) : null;
        var watch = watched ?? ownWatch!;
        var aborted = context.RequestAborted;
        var sessionId = ProxySession.Of(context.Request);
        var taskLabel = context.Request.Headers["x-modelmix-task"].ToString() is { Length: > 0 } task ? task : null;

        // Confidence cascade hook (ProxyCascade.cs): the cascade alias runs its own tiers, budget hold, verifier calls
        // and relay, sending each tier through the Cascade* members below (same retries, records and relay as here).
        if (_cascade.Value is { } cascade && cascade.Handles(request.Model))
        {
            await cascade.RunAsync(this, context, requestId, body, request, dialect, caller, sessionId, taskLabel, watch);
            return;
        }

        Route route;
        var routedFeatures = request.Features; // what the request asks of a model once routed (a decision's effort included)
        if (_router.IsAlias(request.Model, out var policy))
        {
            var features = request.Features with { TaskLabel = taskLabel, SessionId = sessionId, RequestId = requestId, KeyId = caller.KeyId };
            if (held is null && _router.RoutingCallOf(policy!) is { } routingCall)
            {
                // auto-meta pays its classifier before it decides: the loop guard and the budget come first, so a
                // stopped session or a key over its budget is refused before anything is paid. The hold covers the
                // classification and the costliest answer, and the classification is charged to it.
                await ForwardPayingRoutingCallAsync(context, requestId, body, request, dialect, caller, policy!, routingCall, features, sessionId, taskLabel, watch);
                return;
            }

            var decision = held is null
                ? await ProxyRouter.DecideAsync(policy!, features, watch.Token)
                : await RoutingCallCharger.DecideAsync(held, policy!, features, watch.Token); // a paid routing call runs on if the client leaves
            decision = _router.Fit.Fit(decision, features); // never a model that would reject the request as it is (ModelFit)
            if (decision.Batch && dialect is AnthropicDialect && !request.Stream && !BatchEndpoints.RefusesBatch(context))
            {
                // A routing rule with "batch": true — queued for the Message Batches API, answered 202 (BatchEndpoints.cs).
                await _batches.Value.EnqueueDecidedAsync(context, requestId, body, request, caller, decision);
                return;
            }

            var chosen = decision;
            decision = _router.Thinking.Adjust(decision, features); // thinking-aware: stay where the carried thinking is readable (ThinkingAffinity)
            decision = _caching is null ? decision : await _caching.RouteAsync(decision, features, aborted); // cache-warm stickiness (ProxyPromptCaching.cs)
            if (decision.Model != chosen.Model && _router.Fit.Check(decision.Model, features) != RuleViolation.None)
            {
                decision = chosen; // the warm model would reject the request as it is
            }
            if (held?.Reservation is { } reservation && decision.Model != chosen.Model
                && held.Charged + BudgetEstimator.WorstCaseUsd(_recorder.Prices, decision.Model, body, request.MaxTokens, _time.GetUtcNow()) > reservation.AmountUsd)
            {
                decision = chosen; // the warm model could cost more than the hold taken before routing covers
            }

            route = new Route(decision.Model, decision.Policy, decision.Reason);
            body = RequestBodyRewriter.ReplaceModel(body, decision.Model);
            if (RequestTraitsReader.WireName(decision.Effort) is { } effort)
            {
                // A pin, rule or default with an effort (opus@low) overrides the caller's: only output_config changes.
                body = RequestBodyRewriter.SetEffort(body, effort);
                routedFeatures = features with { Traits = features.Traits with { Effort = decision.Effort } };
            }
        }
        else if (_recorder.Prices.TryResolveId(request.Model, out _))
        {
            route = new Route(request.Model, "passthrough", "the caller named a model");
        }
        else if (_options.UnpricedModels == UnpricedModelHandling.Refuse)
        {
            await dialect.WriteErrorAsync(
                context,
                400,
                $"model: '{request.Model}' is neither a routing alias ({string.Join(", ", _router.Aliases)}) nor in ModelMix's model catalog ({_recorder.Prices.SourceName}), and ModelMix:UnpricedModels is 'Refuse'. Use a priced model (see `modelmix prices`) or add its price to a price file (ModelMix:Prices, or --prices FILE).",
                null,
                requestId);
            await RecordRefusalAsync(context, requestId, caller, request.Model, taskLabel);
            return;
        }
        else if (!MessagesRequest.IsForwardableModelId(request.Model))
        {
            // Only a name shaped like a model id goes upstream unpriced: it also lands in a response header, the
            // ledger and the logs, so no URL, host, control or non-ASCII characters, and no unbounded length.
            await dialect.WriteErrorAsync(
                context,
                400,
                $"model: '{MessagesRequest.Clip(request.Model)}' is neither a routing alias, nor a model in ModelMix's catalog, nor shaped like a model id (1 to {MessagesRequest.MaxModelIdLength} letters, digits, '.', '_', '-' or ':').",
                null,
                requestId);
            await RecordRefusalAsync(context, requestId, caller, model: null, taskLabel);
            return;
        }
        else
        {
            // An unpriced model is forwarded: its attempts are recorded with their tokens and no cost (status
            // unpriced), to be repriced once a price exists. A budget still refuses it (BudgetGate).
            route = new Route(request.Model, "passthrough", "the caller named a model (not in the catalog: recorded unpriced)");
        }

        context.Response.Headers["x-modelmix-routed-model"] = route.Model;

        // Loop guard (ProxyLoopGuard): a session past its step, velocity or repeated-tool-call limit is stopped here,
        // with a ledger entry, before anything is reserved or sent (a request held before routing was checked then).
        if (held is null && await TripsLoopGuardAsync(context, requestId, request, route, dialect, caller, sessionId, taskLabel, body))
        {
            return;
        }

        _drift?.Observe(route.Model);

        // Budgets (BudgetGate): hold the routed model's worst-case cost before dispatch; null means a 429 was written.
        // Disposing the hold when the request is over settles it to the recorded cost of its attempts (or releases it).
        await using var budget = held ?? await _budgets.ReserveAsync(context, caller, route.Model, body, request.MaxTokens, sessionId, requestId, dialect);
        if (budget is null)
        {
            await RecordRefusalAsync(context, requestId, caller, request.Model, taskLabel); // over budget, or no price to hold
            return;
        }

        body = _caching?.Apply(body, route.Model) ?? body; // cache_control breakpoints for the routed model (ProxyPromptCaching.cs)
        // Shadow mode hook (ProxyShadow.cs): a sampled request carries a pair id on its records and, when streamed, a copy of its events.
        var shadow = _shadow.Value;
        var shadowPairId = shadow?.Sample(requestId, taskLabel);
        var call = new CallContext(
            requestId,
            request,
            route,
            body,
            AnthropicVersionOf(context),
            context.Request.Headers["anthropic-beta"].ToString() is { Length: > 0 } beta ? beta : null,
            sessionId,
            taskLabel,
            budget)
        { ShadowPairId = shadowPairId, ShadowCapture = ProxyShadow.CaptureFor(shadowPairId, request.Stream), Query = QueryOf(context), Effort = routedFeatures.Traits.Effort, Watch = watch };

        // A model another request (on any replica sharing the store) just saw overloaded starts on the chain's next model.
        if (await _cooldowns.InsteadOfAsync(call.Route.Model, call.Budget.Reservation is not null, routedFeatures) is { } cooler)
        {
            call = call with
            {
                Route = new Route(cooler, call.Route.Policy, $"fallback to {cooler}: {call.Route.Model} is cooling down after a 429/529", call.Route.Model),
                Body = RequestBodyRewriter.ReplaceModel(call.Body, cooler),
            };
            context.Response.Headers["x-modelmix-routed-model"] = cooler;
        }

        // Retries on one model (Polly, above), then the fallback chain (ProxyFallback): a model that still fails moves
        // the request to the next model, body re-pointed, attempts numbered on across models.
        UpstreamResult? result = null;
        var attempts = new StrongBox<int>(0); // attempts are numbered on across the fallback chain's models
        HashSet<string>? tried = null; // the models tried so far, once one has failed
        while (true)
        {
            Exception? failure = null;
            try
            {
                result = await SendWithRetriesAsync(call, attempts, watch);
            }
            catch (Exception exception) when (exception is HttpRequestException or UpstreamTimeoutException)
            {
                failure = exception;
                result = null;
            }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested)
            {
                return; // the client left and every attempt made is recorded (a stopped one with its estimate)
            }

            var overflow = result is { Status: 400 } && IsContextOverflow(result.Body);
            var failed = failure is not null || result is { FailedRetryably: true };
            if ((failed || overflow) && watch.ClientGone)
            {
                result?.Dispose(); // recorded; nobody is left to answer, so no fallback is paid for
                return;
            }
            if (failed || overflow)
            {
                (tried ??= new HashSet<string>(StringComparer.OrdinalIgnoreCase)).Add(call.Route.Model);
            }

            if ((failed || overflow)
                && await _cooldowns.NextAsync(call.Route.Model, overflow, tried!, call.Budget.Reservation is not null, routedFeatures) is { } next)
            {
                var what = overflow ? "the prompt is too long for its context window" : failure is not null ? "it could not be reached" : $"HTTP {result!.Status}";
                result?.Dispose();
                call = call with
                {
                    Route = new Route(next, call.Route.Policy, $"fallback to {next}: {what} on {call.Route.Model}", call.Route.Model),
                    Body = RequestBodyRewriter.ReplaceModel(call.Body, next),
                };
                context.Response.Headers["x-modelmix-routed-model"] = next;
                continue;
            }

            if (failure is not null)
            {
                await WriteUpstreamFailureAsync(context, failure, dialect, requestId);
                return;
            }

            break;
        }

        await RelayAsync(context, call, result!, dialect);
        shadow?.Submit(call, result!); // after the answer was written: only a queue write (ProxyShadow.cs)
        _loopGuard.AddSpend(caller.KeyId, sessionId, call.Budget.Charged);
    }

    /// <summary>
    /// The start of an alias whose policy pays for a routing call (<c>auto-meta</c>): the loop guard, then a budget
    /// hold for the call and the costliest answer, then <see cref="ForwardAsync"/> with that hold. A method of its own
    /// because its worst-case closure captures the request: in <see cref="ForwardAsync"/> the compiler would allocate
    /// the captured variables' class on every request, routed this way or not.
    /// </summary>
    private async Task ForwardPayingRoutingCallAsync(HttpContext context, string requestId, byte[] body, MessagesRequest request, IClientDialect dialect, AuthCaller caller, IRoutingPolicy policy, ProxyRoutingCall routingCall, RoutingRequest features, string? sessionId, string? taskLabel, ClientHangups.CallWatch watch)
    {
        if (await TripsLoopGuardAsync(context, requestId, request, new Route(request.Model, policy.Name, "stopped before routing"), dialect, caller, sessionId, taskLabel, body))
        {
            return;
        }

        await using var hold = await _budgets.ReserveAsync(
            context, caller, routingCall.Models, (prices, at) => routingCall.WorstCaseUsd(prices, at, body, request.MaxTokens, features), sessionId, requestId, dialect);
        if (hold is not null)
        {
            await ForwardAsync(context, requestId, body, request, dialect, caller, hold, watch);
        }
    }

    /// <summary>
    /// Answers a request whose upstream could not be reached (an <see cref="HttpRequestException"/>: 502) or did not
    /// answer in time (an <see cref="UpstreamTimeoutException"/>: 504), in <paramref name="dialect"/>'s error shape.
    /// </summary>
    internal Task WriteUpstreamFailureAsync(HttpContext context, Exception failure, IClientDialect dialect, string requestId) =>
        failure is UpstreamTimeoutException
            ? dialect.WriteErrorAsync(context, 504, $"The upstream API did not answer within {_options.UpstreamTimeout}.", "api_error", requestId)
            : dialect.WriteErrorAsync(context, 502, $"ModelMix could not reach the upstream API: {failure.Message}", "api_error", requestId);

    /// <summary>Whether a 400 says the prompt does not fit the model's context window (Anthropic: "prompt is too long").</summary>
    private static bool IsContextOverflow(byte[] body) =>
        System.Text.Encoding.UTF8.GetString(body).Contains("prompt is too long", StringComparison.OrdinalIgnoreCase);

    /// <summary>The <c>anthropic-version</c> sent upstream: the client's, else the configured default.</summary>
    internal string AnthropicVersionOf(HttpContext context) =>
        context.Request.Headers["anthropic-version"].ToString() is { Length: > 0 } version ? version : _options.DefaultAnthropicVersion;

    /// <summary>Reads the request body within the size limit; null when an error (413) was written in <paramref name="dialect"/>'s shape.</summary>
    internal async ValueTask<byte[]?> ReadBodyAsync(HttpContext context, IClientDialect dialect)
    {
        var limit = _options.MaxRequestBodyBytes;
        if (context.Request.ContentLength is { } declared && declared > limit)
        {
            await dialect.WriteErrorAsync(context, 413, $"Request exceeds the maximum allowed number of bytes ({limit}).", null, null);
            return null;
        }

        var maxFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (maxFeature is { IsReadOnly: false })
        {
            maxFeature.MaxRequestBodySize = limit + 1;
        }

        if (context.Request.ContentLength is { } length)
        {
            // The usual case: the size is declared (and within the limit), so read straight into the final array.
            // Kestrel ends the body at Content-Length and fails a body cut short, so the array is filled exactly.
            var exact = new byte[length];
            try
            {
                await context.Request.Body.ReadExactlyAsync(exact, context.RequestAborted);
                return exact;
            }
            catch (Exception exception) when (exception is Microsoft.AspNetCore.Http.BadHttpRequestException or IOException or OperationCanceledException)
            {
                if (!context.RequestAborted.IsCancellationRequested)
                {
                    await dialect.WriteErrorAsync(context, 400, "The request body ended before it was complete.", "invalid_request_error", null);
                }

                return null;
            }
        }

        using var buffer = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            int read;
            while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
            {
                if (buffer.Length + read > limit)
                {
                    await dialect.WriteErrorAsync(context, 413, $"Request exceeds the maximum allowed number of bytes ({limit}).", null, null);
                    return null;
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException exception) when (exception.StatusCode == 413)
        {
            await dialect.WriteErrorAsync(context, 413, $"Request exceeds the maximum allowed number of bytes ({limit}).", null, null);
            return null;
        }
        catch (Exception exception) when (exception is Microsoft.AspNetCore.Http.BadHttpRequestException or IOException or OperationCanceledException)
        {
            // The client went away (or sent a broken body) before the request was complete: nothing was sent
            // upstream and nothing is owed; answer if the connection is still there, and don't log it as a fault.
            if (!context.RequestAborted.IsCancellationRequested)
            {
                await dialect.WriteErrorAsync(context, 400, "The request body ended before it was complete.", "invalid_request_error", null);
            }

            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.ToArray();
    }

    /// <summary>Whether the retry pipeline retries an attempt that threw <paramref name="exception"/>.</summary>
    private static bool IsRetryable(Exception exception) => exception is HttpRequestException or UpstreamTimeoutException;

    /// <summary>Whether the retry pipeline retries <paramref name="result"/>: a retryable status whose retry-after (if any) is within the longest wait.</summary>
    private bool IsRetryable(UpstreamResult result) => Pipeline.FallbackChain.ShouldRetry(result.Retryable, result.RetryAfter, _options.MaxRetryDelay);

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
        // call is started for it (the ForwardAsync and cascade callers end the request on this cancellation).
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
            state.DisposeUnreplayed(); // the client left before the pipeline replayed the first outcome
            throw;
        }
    }

    /// <summary>The retry pipeline's callback state: its first call replays the attempt already made, later calls send anew.</summary>
    private sealed class RetryState(MessagesForwarder forwarder, CallContext call, Outcome<UpstreamResult> first, StrongBox<int> attempts, ClientHangups.CallWatch watch)
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
            watch.Client.ThrowIfCancellationRequested();
            return forwarder.SendOnceAsync(call, ++attempts.Value, watch.Token);
        }

        public void DisposeUnreplayed()
        {
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
            await _intents.RegisterAsync(Intent(call, attemptId, attempt, startedAt), CancellationToken.None);
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
            await RecordFailureAsync(call, attemptId, attempt, startedAt, started, 0, "upstream_unreachable", LedgerStatus.Failed);
            Log.AttemptFailed(_logger, attempt, call.RequestId, call.Route.Model, "upstream_unreachable: " + exception.Message, 0);
            throw;
        }
        catch (OperationCanceledException exception) when (!upstream.IsCancellationRequested)
        {
            await RecordFailureAsync(call, attemptId, attempt, startedAt, started, 0, "upstream_timeout", LedgerStatus.Failed);
            Log.AttemptFailed(_logger, attempt, call.RequestId, call.Route.Model, "upstream_timeout", 0);
            throw new UpstreamTimeoutException($"The upstream did not answer within {_options.UpstreamTimeout}.", exception);
        }
        catch (OperationCanceledException)
        {
            await RecordStoppedAsync(call, attemptId, attempt, startedAt, started, 0, null); // stopped for a client that left: billed as an estimate
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
                await RecordStoppedAsync(call, attemptId, attempt, startedAt, started, status, HeaderValue(headers, "request-id"));
                throw;
            }

            if (!wellFormed)
            {
                response.Dispose();
                await RecordFailureAsync(call, attemptId, attempt, startedAt, started, status, "malformed_upstream_response", LedgerStatus.Error, HeaderValue(headers, "request-id"));
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
            call.Budget.Charge(await _recorder.RecordAsync(NewRecord(call, attemptId, attempt, startedAt, started, status, HeaderValue(headers, "request-id"), usage: UsageEstimate.Unanswered(call.Body, call.Request.MaxTokens)) with
            {
                Status = LedgerStatus.Error,
                ErrorType = "answer_too_large",
                UsageEstimated = true,
            }, CancellationToken.None));
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
            await RecordFailureAsync(call, attemptId, attempt, startedAt, started, status, "upstream_body_lost", LedgerStatus.Failed);
            throw new HttpRequestException("The upstream connection broke while its answer was read.", exception);
        }
        catch (OperationCanceledException)
        {
            response.Dispose();
            await RecordStoppedAsync(call, attemptId, attempt, startedAt, started, status, HeaderValue(headers, "request-id"));
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
                await RecordFailureAsync(call, attemptId, attempt, startedAt, started, status, "malformed_upstream_response", LedgerStatus.Error);
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

            // Priced before the record is built, so it is built once (RecordAsync would price and copy it); an
            // unpriced attempt goes through RecordAsync, which marks it so.
            var priced = _recorder.TryCost(call.Route.Model, model, usage, startedAt, out var cost);
            var answered = NewRecord(call, attemptId, attempt, startedAt, started, status, HeaderValue(headers, "request-id"), model, usage, priced ? cost : null, thinkingDropped);
            var record = priced
                ? await _recorder.RecordPricedAsync(answered, CancellationToken.None)
                : await _recorder.RecordAsync(answered, CancellationToken.None);
            call.Budget.Charge(record);
            await (_caching?.ObserveAsync(call.Body, record) ?? ValueTask.CompletedTask);
            _router.ObserveThinking(record, call.Request.Features.Traits);
            if (record.Status == LedgerStatus.Unpriced && _recorder.IsFirstUnpricedSighting(model ?? call.Route.Model))
            {
                Log.Unpriced(_logger, call.RequestId, model ?? call.Route.Model);
            }

            return new UpstreamResult { Attempt = attempt, AttemptId = attemptId, Status = status, Body = body, Headers = headers, StartedAt = startedAt, StartedTimestamp = started, Cost = record.Cost?.Total };
        }

        var errorType = ReadErrorType(body) ?? AnthropicError.TypeFor(status);
        await _cooldowns.NoteAsync(call.Route.Model, status, retryAfter);
        await RecordFailureAsync(call, attemptId, attempt, startedAt, started, status, errorType, LedgerStatus.Error, HeaderValue(headers, "request-id"));
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

    /// <summary>Writes a buffered upstream answer (success or error) to the client as it came.</summary>
    private static async Task RelayBufferedAsync(HttpContext context, UpstreamResult result)
    {
        var response = context.Response;
        response.StatusCode = result.Status;
        RelayHeaders(response, result);

        response.ContentLength = result.Body.Length;
        try
        {
            await response.Body.WriteAsync(result.Body, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left; the attempt is already in the ledger.
        }
    }

    /// <summary>Copies the upstream headers ModelMix relays onto the client's response (by index: no boxed enumerator per request).</summary>
    internal static void RelayHeaders(HttpResponse response, UpstreamResult result)
    {
        var headers = result.Headers;
        for (var i = 0; i < headers.Count; i++)
        {
            response.Headers[headers[i].Key] = headers[i].Value;
        }
    }

    /// <summary>Sets a stream's status and relayed headers, and turns response buffering off so events go out as they come.</summary>
    internal static HttpResponse StartStreamResponse(HttpContext context, UpstreamResult result)
    {
        var response = context.Response;
        response.StatusCode = result.Status;
        RelayHeaders(response, result);

        response.Headers.CacheControl = "no-cache";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        return response;
    }

    /// <summary>
    /// Relays a stream event by event and records its attempt when it ends. A client that leaves does not end the
    /// upstream stream: it is read on, unrelayed, to its final usage (bounded by <see cref="ProxyOptions.MaxOrphanedStreamBytes"/>
    /// and <see cref="ProxyOptions.UpstreamTimeout"/> from the moment the client left; stopped at once when the proxy's
    /// orphan limit is reached, ClientHangups.cs). An upstream that sends nothing for <see cref="ProxyOptions.StreamIdleTimeout"/>
    /// is stalled: the client's stream ends with an error event. A stream that ends without its final usage is recorded
    /// with an estimate from what was relayed (<see cref="SseUsageTap.UsageOrEstimate"/>).
    /// </summary>
    private async Task RelayStreamAsync(HttpContext context, CallContext call, UpstreamResult result, HttpResponseMessage upstream, IStreamTranslator? translator)
    {
        var response = StartStreamResponse(context, result);
        var watch = call.Watch!;
        var client = context.RequestAborted;
        var tap = new SseUsageTap(_options.MaxAnswerBytes);
        string? cutReason = null; // the upstream's fault: the client gets an error event
        var tooLarge = false;
        string? stopReason = null; // the proxy stopped an orphaned stream
        var stalled = false;
        var clientGone = false;
        long goneAt = 0, drained = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(16384);
        var translated = translator is null ? null : new ArrayBufferWriter<byte>(16384);
        using var idle = _timeouts.Start(_options.StreamIdleTimeout, watch.Token); // re-armed on every read
        try
        {
            await using var source = await upstream.Content.ReadAsStreamAsync(idle.Token);
            try
            {
                await response.StartAsync(client);
            }
            catch (Exception exception) when (exception is IOException or OperationCanceledException)
            {
                clientGone = true;
                goneAt = _time.GetTimestamp();
            }

            int read;
            while ((read = await source.ReadAsync(buffer, idle.Token)) > 0)
            {
                idle.Restart(_options.StreamIdleTimeout);
                tap.Observe(buffer.AsSpan(0, read));
                if (tap.Overflowed)
                {
                    tooLarge = true; // one event past MaxAnswerBytes: a misbehaving upstream, cut before it takes the memory
                    cutReason = $"an upstream event was larger than ModelMix:MaxAnswerBytes ({_options.MaxAnswerBytes} bytes)";
                    break;
                }

                call.ShadowCapture?.Append(buffer.AsSpan(0, read));
                if (!clientGone && client.IsCancellationRequested)
                {
                    clientGone = true;
                    goneAt = _time.GetTimestamp();
                }

                if (clientGone)
                {
                    // Read on, unrelayed, for the final usage: the API bills this stream whether or not anyone reads it.
                    drained += read;
                    if (drained > _options.MaxOrphanedStreamBytes || _time.GetElapsedTime(goneAt) > _options.UpstreamTimeout)
                    {
                        stopReason = drained > _options.MaxOrphanedStreamBytes
                            ? $"more than {_options.MaxOrphanedStreamBytes} bytes after the client left (ModelMix:MaxOrphanedStreamBytes)"
                            : $"longer than {_options.UpstreamTimeout} after the client left (ModelMix:UpstreamTimeout)";
                        watch.Stop();
                        break;
                    }

                    continue;
                }

                try
                {
                    if (translator is null)
                    {
                        await response.Body.WriteAsync(buffer.AsMemory(0, read), client);
                    }
                    else
                    {
                        translated!.ResetWrittenCount();
                        translator.Translate(buffer.AsSpan(0, read), translated);
                        if (translated.WrittenCount == 0)
                        {
                            continue;
                        }

                        await response.Body.WriteAsync(translated.WrittenMemory, client);
                    }

                    await response.Body.FlushAsync(client);
                }
                catch (Exception exception) when (exception is IOException or OperationCanceledException)
                {
                    clientGone = true; // a write to a client that left: the stream is read on
                    goneAt = _time.GetTimestamp();
                }
            }

            if (stopReason is null && cutReason is null && !tap.Completed && tap.ErrorType is null)
            {
                cutReason = "the upstream closed the stream early";
            }
        }
        catch (OperationCanceledException) when (watch.Stopped)
        {
            stopReason ??= "ModelMix:MaxOrphanedCalls upstream calls were already running for clients that left";
        }
        catch (OperationCanceledException) when (!watch.Token.IsCancellationRequested)
        {
            stalled = true; // nothing from the upstream for StreamIdleTimeout
            cutReason = $"the upstream sent nothing for {_options.StreamIdleTimeout}";
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException)
        {
            cutReason = "the upstream connection broke: " + exception.Message;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        var model = tap.Model ?? call.Route.Model;
        if (cutReason is not null)
        {
            if (stalled)
            {
                Log.StreamIdle(_logger, call.RequestId, model, _options.StreamIdleTimeout);
            }
            else
            {
                Log.StreamCut(_logger, call.RequestId, model, cutReason);
            }

            if (!clientGone)
            {
                try
                {
                    var message = "The upstream stream ended unexpectedly (" + cutReason + "); the answer is incomplete.";
                    await response.Body.WriteAsync(translator?.ErrorEvent("api_error", message) ?? AnthropicError.StreamEvent("api_error", message), client);
                    await response.Body.FlushAsync(client);
                }
                catch (Exception exception) when (exception is IOException or OperationCanceledException)
                {
                    clientGone = true;
                }
            }
        }

        if (stopReason is not null)
        {
            Log.OrphanStopped(_logger, call.RequestId, model, stopReason);
        }
        else if (clientGone)
        {
            Log.ClientGone(_logger, call.RequestId, model);
        }

        var usage = tap.UsageOrEstimate(out var estimated);
        var status = tap.ErrorType is not null || cutReason is not null ? LedgerStatus.Error : stopReason is not null ? LedgerStatus.Failed : LedgerStatus.Ok;
        var errorType = tap.ErrorType ?? (stalled ? "stream_idle_timeout" : tooLarge ? "answer_too_large" : cutReason is not null ? "stream_cut" : stopReason is not null ? "client_disconnected" : null);
        var record = await _recorder.RecordAsync(NewRecord(call, result.AttemptId, result.Attempt, result.StartedAt, result.StartedTimestamp, result.Status) with
        {
            UpstreamRequestId = HeaderValue(result.Headers, "request-id"),
            ResponseModel = tap.Model,
            Usage = usage,
            UsageEstimated = estimated,
            ClientDisconnected = clientGone || watch.ClientGone,
            ThinkingBlocksDropped = tap.ThinkingBlocksDropped,
            Streaming = true,
            Status = status,
            ErrorType = errorType,
        }, CancellationToken.None);
        call.Budget.Charge(record);
        await (_caching?.ObserveAsync(call.Body, record) ?? ValueTask.CompletedTask);
        _router.ObserveThinking(record, call.Request.Features.Traits);
        if (record.Status == LedgerStatus.Unpriced && _recorder.IsFirstUnpricedSighting(model))
        {
            Log.Unpriced(_logger, call.RequestId, model);
        }

        if (!clientGone && !watch.ClientGone)
        {
            await AnswerHeaders.WriteStreamTrailerAsync(response, call.RequestId, record, client); // ": modelmix cost_usd=…" after the last event
        }
    }

    /// <summary>The ledger record of one attempt; an answered one passes what the answer said (one record built, not copied with <c>with</c>).</summary>
    private LedgerRecord NewRecord(CallContext call, string? attemptId, int attempt, DateTimeOffset startedAt, long started, int status, string? upstreamRequestId = null, string? responseModel = null, TokenUsage usage = default, CostBreakdown? cost = null, int thinkingDropped = 0) => new()
    {
        ThinkingBlocksDropped = thinkingDropped,
        Cost = cost,
        UpstreamRequestId = upstreamRequestId,
        ResponseModel = responseModel,
        Usage = usage,
        Id = attemptId ?? LedgerIds.New(startedAt),
        Timestamp = startedAt,
        RequestId = call.RequestId,
        SessionId = call.SessionId,
        KeyId = call.Budget.KeyId,
        TaskLabel = call.TaskLabel,
        RequestedModel = call.Request.Model,
        RoutedModel = call.Route.Model,
        Policy = call.Route.Policy,
        Reason = call.Route.Reason,
        EscalatedFrom = call.Route.EscalatedFrom,
        Attempt = attempt,
        Streaming = call.Request.Stream,
        HttpStatus = status,
        LatencyMs = (long)_time.GetElapsedTime(started).TotalMilliseconds,
        ShadowPairId = call.ShadowPairId,
        Effort = _recorder.EffortOf(call.Route.Model, call.Effort, out var effortIsDefault),
        EffortIsDefault = effortIsDefault,
        ClientDisconnected = call.Watch?.ClientGone ?? false,
    };

    /// <summary>
    /// Records an attempt the proxy stopped because its client left (past the orphan limit, ClientHangups.cs) before
    /// any usage arrived: billed at <see cref="UsageEstimate.Unanswered(ReadOnlySpan{byte}, long)"/>, flagged estimated.
    /// </summary>
    private async Task RecordStoppedAsync(CallContext call, string attemptId, int attempt, DateTimeOffset startedAt, long started, int status, string? upstreamRequestId)
    {
        Log.OrphanStopped(_logger, call.RequestId, call.Route.Model, "stopped before the upstream answered");
        call.Budget.Charge(await _recorder.RecordAsync(NewRecord(call, attemptId, attempt, startedAt, started, status, upstreamRequestId, usage: UsageEstimate.Unanswered(call.Body, call.Request.MaxTokens)) with
        {
            Status = LedgerStatus.Failed,
            ErrorType = "client_disconnected",
            ClientDisconnected = true,
            UsageEstimated = true,
        }, CancellationToken.None));
    }

    /// <summary>
    /// An attempt's intent (ProxyIntents.cs): what reconciliation needs to write its outcome_unknown record if this
    /// process dies before recording it, with its worst-case usage (<see cref="UsageEstimate.Unanswered(ReadOnlySpan{byte}, long)"/>,
    /// as for a call stopped before it answered); priced only then.
    /// </summary>
    private LedgerIntent Intent(CallContext call, string attemptId, int attempt, DateTimeOffset startedAt)
    {
        var worstCase = UsageEstimate.Unanswered(call.Body, call.Request.MaxTokens);
        return new LedgerIntent
        {
            Id = attemptId,
            CreatedAt = startedAt,
            RequestId = call.RequestId,
            ReservationId = call.Budget.Reservation?.Id,
            KeyId = call.Budget.KeyId,
            SessionId = call.SessionId,
            TaskLabel = call.TaskLabel,
            RequestedModel = call.Request.Model,
            RoutedModel = call.Route.Model,
            Policy = call.Route.Policy,
            Attempt = attempt,
            EscalatedFrom = call.Route.EscalatedFrom,
            Effort = _recorder.EffortOf(call.Route.Model, call.Effort, out var effortIsDefault),
            EffortIsDefault = effortIsDefault,
            Streaming = call.Request.Stream,
            ShadowPairId = call.ShadowPairId,
            InputTokens = worstCase.InputTokens,
            OutputTokens = worstCase.OutputTokens,
        };
    }

    private async Task RecordFailureAsync(CallContext call, string attemptId, int attempt, DateTimeOffset startedAt, long started, int status, string errorType, LedgerStatus outcome, string? upstreamRequestId = null)
    {
        call.Budget.Charge(await _recorder.RecordAsync(NewRecord(call, attemptId, attempt, startedAt, started, status) with
        {
            Status = outcome,
            ErrorType = errorType,
            UpstreamRequestId = upstreamRequestId,
        }, CancellationToken.None));
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

    private static TimeSpan? ParseRetryAfter(RetryConditionHeaderValue? header) => header switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
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

    /// <summary>
    /// The API the client speaks: how errors, buffered answers and streams are written back to it. The upstream call,
    /// its retries and its ledger records are the same whatever the dialect.
    /// </summary>
    internal interface IClientDialect
    {
        /// <summary>Writes an error the proxy itself produced (validation, size, upstream unreachable or timed out).</summary>
        Task WriteErrorAsync(HttpContext context, int status, string message, string? type, string? requestId);

        /// <summary>Writes a complete upstream answer: a message or an upstream error.</summary>
        Task WriteBufferedAsync(HttpContext context, UpstreamResult result, string requestId);

        /// <summary>A translator for one stream, or null to relay the upstream's events byte for byte.</summary>
        IStreamTranslator? CreateStreamTranslator();
    }

    /// <summary>Turns the bytes of an Anthropic event stream, as they arrive, into the client's stream format.</summary>
    internal interface IStreamTranslator
    {
        /// <summary>Writes what the client receives for the next chunk of upstream bytes (possibly nothing yet).</summary>
        void Translate(ReadOnlySpan<byte> upstream, IBufferWriter<byte> output);

        /// <summary>The event that ends a stream the proxy could not finish.</summary>
        byte[] ErrorEvent(string type, string message);
    }

    /// <summary>The Anthropic Messages API itself: everything relayed as it came.</summary>
    internal sealed class AnthropicDialect : IClientDialect
    {
        public static readonly AnthropicDialect Instance = new();

        public Task WriteErrorAsync(HttpContext context, int status, string message, string? type, string? requestId) =>
            AnthropicError.WriteAsync(context, status, message, type, requestId);

        public Task WriteBufferedAsync(HttpContext context, UpstreamResult result, string requestId) => RelayBufferedAsync(context, result);

        public IStreamTranslator? CreateStreamTranslator() => null;
    }

    // ---- Confidence cascade support (used only by ProxyCascade.cs) ---------------------------------------------------
    // The cascade sends every tier through the same retry pipeline, attempt records and relays as ForwardAsync. These
    // members expose exactly that and nothing else; the cascade's logic lives in ProxyCascade.

    /// <summary>
    /// Counts one step of the request's session in the loop guard; when a limit trips, records the stop in the ledger
    /// (no cost) and writes a 400. True when the request was stopped.
    /// </summary>
    private async ValueTask<bool> TripsLoopGuardAsync(HttpContext context, string requestId, MessagesRequest request, Route route, IClientDialect dialect, AuthCaller caller, string? sessionId, string? taskLabel, byte[] body)
    {
        if (_loopGuard.Check(caller.KeyId, sessionId, body) is not { } tripped)
        {
            return false;
        }

        await _recorder.RecordAsync(new LedgerRecord
        {
            Id = LedgerIds.New(_time),
            Timestamp = _time.GetUtcNow(),
            RequestId = requestId,
            SessionId = sessionId,
            TaskLabel = taskLabel,
            KeyId = caller.KeyId,
            RequestedModel = request.Model,
            RoutedModel = route.Model,
            Policy = route.Policy,
            Reason = tripped,
            Status = LedgerStatus.Error,
            ErrorType = ProxyLoopGuard.ErrorType,
        }, CancellationToken.None);
        await dialect.WriteErrorAsync(context, 400, tripped, "invalid_request_error", requestId);
        return true;
    }

    /// <summary>One cascade tier's call: its body (only <c>model</c> rewritten) and its route (policy, reason, escalated from).</summary>
    internal CallContext CascadeCall(HttpContext context, string requestId, MessagesRequest request, byte[] body, Route route, string? sessionId, string? taskLabel, BudgetHold budget, ClientHangups.CallWatch watch) =>
        new(requestId, request, route, body, AnthropicVersionOf(context), context.Request.Headers["anthropic-beta"].ToString() is { Length: > 0 } beta ? beta : null, sessionId, taskLabel, budget) { Watch = watch };

    /// <summary>Sends <paramref name="call"/> with the retry pipeline; <paramref name="attempts"/> numbers its attempts on from the request's earlier ones.</summary>
    internal Task<UpstreamResult> CascadeSendAsync(CallContext call, StrongBox<int> attempts) =>
        SendWithRetriesAsync(call, attempts, call.Watch!);

    /// <summary>Writes a tier's answer as ForwardAsync does: a stream relayed live (and recorded when it ends), else buffered.</summary>
    /// <remarks>ForwardAsync relays its final answer through this method too, so both paths write answers alike.</remarks>
    internal async Task RelayAsync(HttpContext context, CallContext call, UpstreamResult result, IClientDialect dialect)
    {
        using (result)
        {
            AnswerHeaders.Apply(context.Response, call.Route, result); // the decision and (buffered) the cost (AnswerHeaders.cs)
            if (result.OpenStream is { } stream)
            {
                await RelayStreamAsync(context, call, result, stream, dialect.CreateStreamTranslator());
            }
            else
            {
                await dialect.WriteBufferedAsync(context, result, call.RequestId);
            }
        }
    }

    /// <summary>The ledger record of one attempt of <paramref name="call"/> (a stream the cascade read to the end), to be completed by the caller.</summary>
    internal LedgerRecord CascadeRecord(CallContext call, UpstreamResult result) =>
        NewRecord(call, result.AttemptId, result.Attempt, result.StartedAt, result.StartedTimestamp, result.Status);

    // ---- end of confidence cascade support ----------------------------------------------------------------------------

    /// <summary>Where a request goes and why; <paramref name="EscalatedFrom"/> is set on a cascade's escalated tiers.</summary>
    internal sealed record Route(string Model, string Policy, string Reason, string? EscalatedFrom = null);

    internal sealed record CallContext(
        string RequestId,
        MessagesRequest Request,
        Route Route,
        byte[] Body,
        string AnthropicVersion,
        string? AnthropicBeta,
        string? SessionId,
        string? TaskLabel,
        BudgetHold Budget)
    {
        /// <summary>The shadow pair id when shadow mode sampled this request (ProxyShadow.cs).</summary>
        public string? ShadowPairId { get; init; }

        /// <summary>A copy of the relayed stream for the shadow comparison, when sampled and streamed.</summary>
        public ProxyShadow.StreamCapture? ShadowCapture { get; init; }

        /// <summary>The client's query string (with its <c>?</c>), forwarded unchanged; null when it sent none.</summary>
        public string? Query { get; init; }

        /// <summary>The <c>output_config.effort</c> the body carries (the caller's, or a routing decision's).</summary>
        public EffortLevel Effort { get; init; }

        /// <summary>The request's client and the token its upstream calls run under (ClientHangups.cs).</summary>
        public ClientHangups.CallWatch? Watch { get; init; }
    }
}
