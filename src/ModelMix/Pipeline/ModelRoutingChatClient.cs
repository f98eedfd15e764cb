using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Ledger;
using ModelMix.Routing;

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
/// </remarks>
public sealed class ModelRoutingChatClient : RoutingChatClient
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
        _fit = new Catalog.ModelFit(options.PriceBook ?? Pricing.PriceBook.Default, _time);
    }

    /// <summary>The client every call is sent to.</summary>
    public IChatClient InnerClient => _inner;

    /// <summary>The policy that decides.</summary>
    public IRoutingPolicy Policy => _policy;

    /// <inheritdoc />
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        base.GetResponseAsync(messages, options ?? new ChatOptions(), cancellationToken);

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        base.GetStreamingResponseAsync(messages, options ?? new ChatOptions(), cancellationToken);

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
        var requested = string.IsNullOrEmpty(options.ModelId) ? null : options.ModelId;
        if (options.GetRequestId() is null)
        {
            options.WithRequestId(LedgerIds.New(_time));
        }

        options.WithRequestedModel(requested ?? ModelRoutingOptions.AutoAlias);
        RoutingDecision? decision;
        if (requested is not null && _honourRequestedModel && !_aliases.Contains(requested))
        {
            decision = new RoutingDecision(requested, $"the caller asked for {requested}", 1.0, ModelRoutingOptions.CallerPolicyName);
        }
        else
        {
            var request = ChatRoutingRequest.From(messages, options);
            if (_synchronousPolicy is not null)
            {
                decision = _synchronousPolicy.TryDecide(request, out var decided) ? decided : null;
            }
            else
            {
                decision = await _policy.DecideAsync(request, cancellationToken).ConfigureAwait(false);
            }

            if (decision is { } routed)
            {
                if (routed.Effort != Catalog.EffortLevel.Unspecified && request.Traits.Thinking == Catalog.ThinkingMode.Unspecified)
                {
                    // The SDK sends a Reasoning effort with adaptive thinking: fit the model to that.
                    request = request with { Traits = request.Traits with { Thinking = Catalog.ThinkingMode.Adaptive } };
                }

                decision = _fit.Fit(routed, request); // never a model that would reject the call as it is (ModelFit)
            }
        }

        if (decision is { } chosen)
        {
            options.ModelId = chosen.Model;
            if (chosen.Effort != Catalog.EffortLevel.Unspecified)
            {
                // A pin, rule or default with an effort (opus@low) overrides the caller's (ModelMixChatOptions.WithEffort).
                options.WithEffort(chosen.Effort);
            }

            options.WithRouting(chosen.Policy, chosen.Reason);
            if (chosen.Batch && _batchingBelow && options.GetBatchPreference() is null)
            {
                // A rule with "Batch": true marks the call for the batching stage below, which queues it; the caller's
                // WithBatch(false) opts out. Without that stage the call is served at once and stays unmarked (so
                // prompt caching keeps its synchronous TTL).
                options.WithBatch(true);
            }

            RoutingChatClientLog.Routed(_logger, options.GetRequestId(), chosen.Model, chosen.Policy, chosen.Reason);
        }
        else
        {
            // No policy was decisive: the inner client's default model serves the call, and the ledger says so.
            options.ModelId = requested is not null && !_aliases.Contains(requested) ? requested : null;
            options.WithRouting(ModelRoutingOptions.UndecidedPolicyName, $"no policy in '{_policy.Name}' decided; the inner client's default model");
            RoutingChatClientLog.Undecided(_logger, options.GetRequestId(), _policy.Name);
        }

        return decision;
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
}
