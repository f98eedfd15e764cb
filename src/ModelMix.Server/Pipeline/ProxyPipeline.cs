using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelMix.Budgets;
using ModelMix.Catalog;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The proxy's pipeline, entered by every door with a checked Messages body (<c>/v1/messages</c> through
/// <see cref="MessagesForwarder"/>, the OpenAI endpoints through <c>OpenAiDoor</c>): each step is a class of its own,
/// and this one only puts them in order.
/// </summary>
/// <remarks>
/// The steps, in order (docs/architecture.md), after the door's auth (<see cref="AuthGate"/>), body
/// (<see cref="ProxyRequestReader"/>) and parse (<see cref="MessagesRequest"/>): route (<see cref="ProxyRouter"/>, or the cascade, <see cref="ProxyCascade"/>),
/// guard (<see cref="LoopGuardGate"/>), budget hold (<see cref="BudgetGate"/>), caching (<see cref="ProxyPromptCaching"/>),
/// shadow (<see cref="ProxyShadow"/>), cooldown/fallback (<see cref="FallbackSender"/>), send (<see cref="UpstreamSender"/>),
/// record (<see cref="AttemptLedger"/>), relay (<see cref="AnswerRelay"/>), settle (the hold's disposal, <see cref="BudgetHold"/>).
/// </remarks>
internal sealed class ProxyPipeline
{
    private readonly ProxyOptions _options;
    private readonly AttemptRecorder _recorder;
    private readonly TimeProvider _time;
    private readonly ProxyRouter _router;
    private readonly LoopGuardGate _loopGuard;
    private readonly TierDriftMonitor? _drift;
    private readonly BudgetGate _budgets;
    private readonly ProxyRequestReader _reader;
    private readonly FallbackSender _fallback;
    private readonly AnswerRelay _relay;
    private readonly ProxyPromptCaching? _caching;
    // Singletons taken from the root provider when first needed (the cascade builds its SDK client then; shadow mode
    // exists only when configured). Not through HttpContext.RequestServices, which opens a DI scope per request.
    private readonly Lazy<ProxyCascade?> _cascade;
    private readonly Lazy<ProxyShadow?> _shadow;
    private readonly Lazy<BatchQueue> _batches;
    private readonly Lazy<ProxyRefusals?> _refusals;
    private readonly ClientHangups _hangups;

    public ProxyPipeline(IOptions<ProxyOptions> options, AttemptRecorder recorder, ProxyRouter router, LoopGuardGate loopGuard, ProxyGuards guards, BudgetGate budgets, ProxyRequestReader reader, FallbackSender fallback, AnswerRelay relay, TimeProvider time, IServiceProvider services, ClientHangups hangups, ProxyPromptCaching? caching = null)
    {
        _hangups = hangups;
        _cascade = new(() => services.GetService<ProxyCascade>());
        _refusals = new(() => services.GetService<ProxyRefusals>());
        _shadow = new(() => services.GetService<ProxyShadow>());
        _batches = new(services.GetRequiredService<BatchQueue>);
        _caching = caching;
        _loopGuard = loopGuard;
        _drift = guards.TierDrift;
        _budgets = budgets;
        _router = router;
        _reader = reader;
        _fallback = fallback;
        _relay = relay;
        _options = options.Value;
        _recorder = recorder;
        _time = time;
    }

    /// <summary>
    /// Records the refusal just written for this request (<see cref="ProxyRefusals"/>) in the ledger, with the caller's
    /// key and session: a refused request is visible where its spend would be.
    /// </summary>
    internal ValueTask RecordRefusalAsync(HttpContext context, string requestId, AuthCaller caller, string? model, string? taskLabel = null) =>
        ProxyRefusals.Of(context) is { } refusal && _refusals.Value is { } refusals
            ? refusals.RecordAsync(requestId, caller.KeyId, ProxySession.Of(context.Request), taskLabel, model, refusal.Status, refusal.Type, refusal.Message)
            : ValueTask.CompletedTask;

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
        // and relay, sending each tier through the same sender, ledger and relay as here.
        if (_cascade.Value is { } cascade && cascade.Handles(request.Model))
        {
            await cascade.RunAsync(context, requestId, body, request, dialect, caller, sessionId, taskLabel, watch);
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
            if (decision.Batch && dialect is AnthropicDialect && !request.Stream && !BatchQueue.RefusesBatch(context))
            {
                // A routing rule with "batch": true — queued for the Message Batches API, answered 202 (BatchQueue.cs).
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
        if (held is null && await _loopGuard.TripsAsync(context, requestId, request, route, dialect, caller, sessionId, taskLabel, body))
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
            _reader.AnthropicVersionOf(context),
            ProxyRequestReader.AnthropicBetaOf(context),
            sessionId,
            taskLabel,
            budget)
        { ShadowPairId = shadowPairId, ShadowCapture = ProxyShadow.CaptureFor(shadowPairId, request.Stream), Query = ProxyRequestReader.QueryOf(context), Effort = routedFeatures.Traits.Effort, Watch = watch };

        // Cooldowns, retries and the fallback chain (FallbackSender, UpstreamSender); a null result: the request is over.
        (call, var result) = await _fallback.SendAsync(context, call, dialect, routedFeatures);
        if (result is null)
        {
            return;
        }

        // A buffered answer's attempts are recorded and charged before it is relayed: its spend counts toward the loop
        // guard's limits before the client can read the answer and send its next request. A stream's cost is known
        // only once it ends, so it counts after the relay.
        var streamed = result.OpenStream is not null;
        if (!streamed)
        {
            _loopGuard.AddSpend(caller.KeyId, sessionId, call.Budget.Charged);
        }

        await _relay.RelayAsync(context, call, result, dialect);
        shadow?.Submit(call, result); // after the answer was written: only a queue write (ProxyShadow.cs)
        if (streamed)
        {
            _loopGuard.AddSpend(caller.KeyId, sessionId, call.Budget.Charged);
        }
    }
    /// <summary>
    /// The start of an alias whose policy pays for a routing call (<c>auto-meta</c>): the loop guard, then a budget
    /// hold for the call and the costliest answer, then <see cref="ForwardAsync"/> with that hold. A method of its own
    /// because its worst-case closure captures the request: in <see cref="ForwardAsync"/> the compiler would allocate
    /// the captured variables' class on every request, routed this way or not.
    /// </summary>
    private async Task ForwardPayingRoutingCallAsync(HttpContext context, string requestId, byte[] body, MessagesRequest request, IClientDialect dialect, AuthCaller caller, IRoutingPolicy policy, ProxyRoutingCall routingCall, RoutingRequest features, string? sessionId, string? taskLabel, ClientHangups.CallWatch watch)
    {
        if (await _loopGuard.TripsAsync(context, requestId, request, new Route(request.Model, policy.Name, "stopped before routing"), dialect, caller, sessionId, taskLabel, body))
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

}
