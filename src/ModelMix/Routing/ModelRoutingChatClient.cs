using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Ledger;
using ModelMix.Routing;
using ModelMix.Telemetry;

#pragma warning disable MEAI001 // RoutingChatClient is marked for evaluation in Microsoft.Extensions.AI 10.11; ModelMix builds on it deliberately.

namespace ModelMix.Pipeline;

/// <summary>
/// The routing stage: asks an <see cref="IRoutingPolicy"/> where each call goes and sends it there, writing the
/// decision (policy, reason, requested model, request id) into the call's options for the ledger stage below.
/// </summary>
/// <remarks>
/// <para>
/// Built on Microsoft.Extensions.AI's <see cref="RoutingChatClient"/>. Its routing identity is a client instance, but
/// for ModelMix a route is a model id served by the same inner client (one Anthropic client serves every Claude
/// model), so <see cref="SelectClientAsync"/> always selects the one inner client and applies the decision to
/// <see cref="RoutingContext.ChatOptions"/> — the per-call clone <see cref="RoutingChatClient"/> makes, so the
/// caller's options are never changed. That clone is <c>null</c> when the caller passed no options, and the context
/// cannot be given new options, so the two entry points substitute an empty <see cref="ChatOptions"/> first.
/// </para>
/// <para>
/// A caller's own model id in <see cref="ChatOptions.ModelId"/> is honoured (policy <c>caller</c>) when
/// <see cref="ModelRoutingOptions.HonourRequestedModel"/> is set and the id is not one of the
/// <see cref="ModelRoutingOptions.Aliases"/> (such as <c>auto</c>).
/// </para>
/// <para>
/// A decision with <see cref="RoutingDecision.Batch"/> (a rule with <c>"Batch": true</c>) marks the call
/// <see cref="ModelMixChatOptions.WithBatch"/> when a <see cref="BatchingChatClient"/> is below this stage and the
/// caller did not opt out with <c>WithBatch(false)</c>.
/// </para>
/// <para>
/// One request, one id: every attempt below (retries, fallbacks, and the iterations of a tool loop run by a
/// <c>FunctionInvokingChatClient</c> below this stage) is numbered under the request id this stage gives. A tool loop
/// run <em>above</em> this stage (a <c>FunctionInvokingChatClient</c> above it, or the app's own loop) is recognised by
/// its tool results: a call whose last messages answer tool calls an answer of this stage asked for continues that
/// request — same id, attempts numbered on, same model, policy and reason — instead of being routed again.
/// </para>
/// <para>
/// The answer carries the decision and the exact cost of the request's recorded attempts (<see cref="ModelMixResponse"/>);
/// each call is a <c>modelmix.request</c> span of the <c>ModelMix</c> activity source (<see cref="ModelMixActivity"/>).
/// </para>
/// </remarks>
public sealed partial class ModelRoutingChatClient : RoutingChatClient
{
    private readonly IChatClient _inner;
    private readonly IRoutingPolicy _policy;
    private readonly ISynchronousRoutingPolicy? _synchronousPolicy;
    private readonly bool _honourRequestedModel;
    private readonly HashSet<string> _aliases;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly bool _batchingBelow;
    private readonly Catalog.ModelFit _fit;
    private readonly Pricing.PriceBook _prices;
    private readonly Caching.ThinkingAffinity? _thinking;
    private readonly ToolLoops _loops = new();

    /// <summary>Creates the stage over <paramref name="innerClient"/>.</summary>
    /// <param name="innerClient">The client that serves every model (e.g. the Anthropic SDK's <c>AsIChatClient</c>, under fallback and ledger stages).</param>
    /// <param name="policy">Decides where each call goes.</param>
    /// <param name="options">Options; the defaults when <c>null</c>.</param>
    /// <param name="logger">Logs decisions at debug level; nothing is logged when <c>null</c>.</param>
    public ModelRoutingChatClient(IChatClient innerClient, IRoutingPolicy policy, ModelRoutingOptions? options = null, ILogger<ModelRoutingChatClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(innerClient);
        ArgumentNullException.ThrowIfNull(policy);
        options ??= new ModelRoutingOptions();
        _inner = innerClient;
        _policy = policy;
        _synchronousPolicy = policy as ISynchronousRoutingPolicy;
        _honourRequestedModel = options.HonourRequestedModel;
        _aliases = new HashSet<string>(options.Aliases, StringComparer.OrdinalIgnoreCase);
        _time = options.TimeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _batchingBelow = innerClient.GetService<BatchingChatClient>() is not null;
        _prices = options.PriceBook ?? Pricing.PriceBook.Default;
        _fit = new Catalog.ModelFit(_prices, _time);
        _thinking = options.KeepThinkingModel ? new Caching.ThinkingAffinity(_prices, _time) : null;
    }

    /// <summary>The client every call is sent to.</summary>
    public IChatClient InnerClient => _inner;

    /// <summary>The policy that decides.</summary>
    public IRoutingPolicy Policy => _policy;

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var (callOptions, scope) = Prepare(messages, options);
        using var activity = ModelMixActivity.Source.StartActivity(ModelMixActivity.RequestSpanName, ActivityKind.Internal);
        try
        {
            var response = await base.GetResponseAsync(messages, callOptions, cancellationToken).ConfigureAwait(false);
            _loops.Register(response.Messages.SelectMany(m => m.Contents), scope);
            ObserveThinking(callOptions, response.ModelId, response.Messages.Any(m => m.Contents.Any(c => c is TextReasoningContent)));
            ModelMixResponse.Annotate(response.AdditionalProperties ??= [], scope, null, null, null);
            return response;
        }
        catch (Exception exception) when (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
            throw;
        }
        finally
        {
            Tag(activity, scope);
        }
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var (callOptions, scope) = Prepare(messages, options);
        using var activity = ModelMixActivity.Source.StartActivity(ModelMixActivity.RequestSpanName, ActivityKind.Internal);
        string? answeringModel = null;
        var thought = false;
        try
        {
            await foreach (var update in base.GetStreamingResponseAsync(messages, callOptions, cancellationToken).ConfigureAwait(false))
            {
                _loops.Register(update.Contents, scope);
                answeringModel ??= update.ModelId;
                thought = thought || update.Contents.Any(c => c is TextReasoningContent);
                yield return update;
            }

            ObserveThinking(callOptions, answeringModel, thought);
        }
        finally
        {
            Tag(activity, scope);
        }
    }

    /// <summary>
    /// Decides the model for one call and writes it, with the decision, into <paramref name="context"/>'s options;
    /// see <see cref="Route"/>.
    /// </summary>
    /// <param name="context">The call's messages and (cloned) options.</param>
    /// <param name="cancellationToken">Cancels a policy that calls out.</param>
    /// <returns>The inner client.</returns>
    protected override async ValueTask<IChatClient> SelectClientAsync(RoutingContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        // Never null: both entry points pass non-null options, which RoutingContext clones.
        var options = context.ChatOptions ?? throw new InvalidOperationException("The routing context carries no options.");
        await Route(context.Messages, options, cancellationToken).ConfigureAwait(false);
        return _inner;
    }

    /// <summary>
    /// Routes one call: decides its model and writes it into <paramref name="options"/> (<see cref="ChatOptions.ModelId"/>,
    /// requested model, policy and reason, and a request id when absent). Exposed for doors that route without
    /// invoking a client.
    /// </summary>
    /// <param name="messages">The call's messages.</param>
    /// <param name="options">The options to change: a per-call copy, never the caller's own instance.</param>
    /// <param name="cancellationToken">Cancels a policy that calls out.</param>
    /// <returns>The decision applied, or <c>null</c> when no policy was decisive (the caller's real model id, else the inner client's default model, stands).</returns>
    public async ValueTask<RoutingDecision?> Route(IEnumerable<ChatMessage> messages, ChatOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(options);
        var scope = ModelMixChatOptions.EnsureScope(options, _time);
        if (scope.Decision is { Model: { } sameModel } earlier)
        {
            // A later step of the same request (a tool loop above this stage): it stays where the request was routed.
            options.ModelId = sameModel;
            options.SetRequestedModel(earlier.RequestedModel).SetRouting(earlier.Policy, earlier.Reason);
            RoutingChatClientLog.Routed(_logger, scope.RequestId, sameModel, earlier.Policy, earlier.Reason);
            return new RoutingDecision(sameModel, earlier.Reason, 1.0, earlier.Policy);
        }

        var requested = string.IsNullOrEmpty(options.ModelId) ? null : options.ModelId;
        options.SetRequestedModel(requested ?? ModelRoutingOptions.AutoAlias);
        RoutingDecision? decision;
        if (requested is not null && _honourRequestedModel && !_aliases.Contains(requested))
        {
            decision = new RoutingDecision(requested, $"the caller asked for {requested}", 1.0, ModelRoutingOptions.CallerPolicyName);
        }
        else
        {
            var request = ChatRoutingRequest.From(messages, options);
            var (policy, synchronousPolicy) = PolicyFor(requested);
            if (synchronousPolicy is not null)
            {
                decision = synchronousPolicy.TryDecide(request, out var decided) ? decided : null;
            }
            else
            {
                decision = await policy.DecideAsync(request, cancellationToken).ConfigureAwait(false);
            }

            if (decision is { } routed)
            {
                if (routed.Effort != Catalog.EffortLevel.Unspecified && request.Traits.Thinking == Catalog.ThinkingMode.Unspecified)
                {
                    // The SDK sends a Reasoning effort with adaptive thinking: fit the model to that.
                    request = request with { Traits = request.Traits with { Thinking = Catalog.ThinkingMode.Adaptive } };
                }

                decision = _fit.Fit(routed, request); // never a model that would reject the call as it is (ModelFit)
                if (_thinking is not null)
                {
                    decision = _thinking.Adjust(decision.Value, request); // stay where the carried thinking is readable (ThinkingAffinity)
                }
            }
        }

        if (decision is { } chosen)
        {
            options.ModelId = chosen.Model;
            if (chosen.Effort != Catalog.EffortLevel.Unspecified)
            {
                // A pin, rule or default with an effort (opus@low) overrides the caller's (ModelMixChatOptions.WithEffort).
                options.SetEffort(chosen.Effort);
            }

            options.SetRouting(chosen.Policy, chosen.Reason);
            if (chosen.Batch && _batchingBelow && options.GetBatchPreference() is null)
            {
                // A rule with "Batch": true marks the call for the batching stage below, which queues it; the caller's
                // WithBatch(false) opts out. Without that stage the call is served at once and stays unmarked (so
                // prompt caching keeps its synchronous TTL).
                options.SetBatch(true);
            }

            RoutingChatClientLog.Routed(_logger, scope.RequestId, chosen.Model, chosen.Policy, chosen.Reason);
            scope.Decision = new ScopeDecision(chosen.Model, chosen.Policy, chosen.Reason, requested ?? ModelRoutingOptions.AutoAlias, Catalog.RequestTraitsReader.WireName(options.GetEffort()));
            RenameEnclosingChatSpan(chosen.Model);
        }
        else
        {
            // No policy was decisive: the inner client's default model serves the call, and the ledger says so.
            options.ModelId = requested is not null && !_aliases.Contains(requested) ? requested : null;
            var undecided = PolicyFor(requested).Policy;
            var reason = $"no policy in '{undecided.Name}' decided; the inner client's default model";
            options.SetRouting(ModelRoutingOptions.UndecidedPolicyName, reason);
            scope.Decision = new ScopeDecision(options.ModelId, ModelRoutingOptions.UndecidedPolicyName, reason, requested ?? ModelRoutingOptions.AutoAlias, null);
            RoutingChatClientLog.Undecided(_logger, scope.RequestId, undecided.Name);
        }

        return decision;
    }

    /// <summary>
    /// The options this call is routed with: a copy of the caller's (never changed), with the request scope of the tool
    /// loop the call continues, if it continues one.
    /// </summary>
    private (ChatOptions Options, RequestScope Scope) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var copy = options?.Clone() ?? new ChatOptions(); // Clone gives the copy a dictionary of its own
        if (ModelMixChatOptions.ScopeOf(copy) is null && _loops.Continues(messages) is { } continued)
        {
            ModelMixChatOptions.SetScope(copy, continued);
        }

        return (copy, ModelMixChatOptions.EnsureScope(copy, _time));
    }

    /// <summary>An answer that carries reasoning made the session's newest thinking blocks on the model that answered.</summary>
    private void ObserveThinking(ChatOptions options, string? responseModel, bool thought) =>
        _thinking?.Observe(options.GetKeyId(), options.GetSessionId(), responseModel ?? options.ModelId, thought);

    /// <summary>Tags a request span with the decision once it is known.</summary>
    private void Tag(Activity? activity, RequestScope scope)
    {
        if (activity is null || scope.Decision is not { } decision)
        {
            return;
        }

        var tier = decision.Model is { } model && _prices.TryGetEntry(model, out var entry) ? entry.Family : null;
        ModelMixActivity.TagDecision(activity, scope.RequestId, decision.RequestedModel, decision.Model, decision.Policy, decision.Reason, decision.Effort, tier);
        activity.SetTag("modelmix.attempts", scope.Attempts);
        if (scope.Cost is { } cost)
        {
            activity.SetTag("modelmix.cost_usd", ModelMixActivity.Usd(cost));
        }
    }

    /// <summary>
    /// A Microsoft.Extensions.AI <c>UseOpenTelemetry</c> stage above routing named its <c>chat</c> span after the model it
    /// saw (none, or the client's default): it is renamed after the model the call was routed to.
    /// </summary>
    private static void RenameEnclosingChatSpan(string model)
    {
        var current = Activity.Current;
        var enclosing = current is not null && current.Source.Name == ModelMixActivity.SourceName ? current.Parent : current;
        if (enclosing?.GetTagItem("gen_ai.operation.name") is string operation
            && !string.Equals(enclosing.GetTagItem("gen_ai.request.model") as string, model, StringComparison.Ordinal))
        {
            enclosing.DisplayName = $"{operation} {model}";
            enclosing.SetTag("gen_ai.request.model", model);
        }
    }

    /// <inheritdoc />
    /// <remarks>Asks this stage, then the inner client: <see cref="RoutingChatClient"/> alone does not look below itself.</remarks>
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return base.GetService(serviceType, serviceKey)
            ?? (serviceKey is null && serviceType.IsInstanceOfType(_policy) ? _policy : null)
            ?? _inner.GetService(serviceType, serviceKey);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>
    /// The tool calls this stage's answers asked for, by call id, and the request each belongs to: a later call that
    /// answers one of them continues that request. Bounded: the oldest are forgotten past <see cref="Capacity"/>.
    /// </summary>
    private sealed class ToolLoops
    {
        private const int Capacity = 4096;
        private readonly ConcurrentDictionary<string, RequestScope> _byCallId = new(StringComparer.Ordinal);
        private readonly ConcurrentQueue<string> _order = new();

        public void Register(IEnumerable<AIContent> contents, RequestScope scope)
        {
            foreach (var content in contents)
            {
                if (content is FunctionCallContent { CallId: { Length: > 0 } callId } && _byCallId.TryAdd(callId, scope))
                {
                    _order.Enqueue(callId);
                    while (_byCallId.Count > Capacity && _order.TryDequeue(out var oldest))
                    {
                        _byCallId.TryRemove(oldest, out _);
                    }
                }
            }
        }

        /// <summary>The request whose tool calls the trailing messages answer, or <c>null</c>.</summary>
        public RequestScope? Continues(IEnumerable<ChatMessage> messages)
        {
            if (_byCallId.IsEmpty)
            {
                return null;
            }

            var list = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
            RequestScope? found = null;
            for (var i = list.Count - 1; i >= 0 && list[i].Role != ChatRole.Assistant; i--)
            {
                foreach (var content in list[i].Contents)
                {
                    if (content is FunctionResultContent { CallId: { Length: > 0 } callId } && _byCallId.TryRemove(callId, out var scope))
                    {
                        found ??= scope;
                    }
                }
            }

            return found;
        }
    }
}
