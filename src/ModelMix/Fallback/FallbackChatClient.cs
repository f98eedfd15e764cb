using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Ledger;
using ModelMix.Routing;
using ModelMix.Pricing;
using Polly;
using Polly.Retry;

#pragma warning disable MEAI001 // FailoverChatClient is marked for evaluation in Microsoft.Extensions.AI 10.11; ModelMix builds on it deliberately.

namespace ModelMix.Pipeline;

/// <summary>
/// The fallback stage: retries a model after a 429 (waiting out its retry-after), 529, 5xx, timeout or connection
/// failure with jittered exponential backoff, then falls back along a configured chain of models; a prompt too long
/// for its model goes to a model with a larger window. A 4xx that cannot succeed is never retried, and neither is a
/// stream that has already shown output. Each attempt carries its number, the model and the model it escalated from
/// in its options, so a ledger stage below records one record per attempt under the same request id.
/// </summary>
/// <remarks>
/// <para>
/// Two layers, each from a library: Microsoft.Extensions.AI's <see cref="FailoverChatClient"/> walks the chain of
/// models — it owns "select another client after a failure, never after streamed output was exposed" — and a Polly
/// retry pipeline retries one model. <see cref="FailoverChatClient"/> selects clients, but for ModelMix every model is
/// served by the same inner client, so each selection returns a small per-attempt client that applies the chosen model
/// to a copy of the options; <see cref="RoutingContext.ChatOptions"/> cannot carry it because it is <c>null</c>
/// when the caller passed no options (and the public entry points of <see cref="FailoverChatClient"/> are sealed).
/// </para>
/// <para>
/// For streams, Polly retries only until the first update arrives; after that the stream is the caller's and a failure
/// ends it (recorded by the ledger as <c>stream_cut</c>).
/// </para>
/// </remarks>
public sealed class FallbackChatClient : FailoverChatClient
{
    // Stryker disable once String : equivalent (docs/testing.md, fallback): only a label; the state is set and read through this one key instance, and nothing else sets a RequestState property
    private static readonly ResiliencePropertyKey<RequestState> s_stateKey = new("modelmix.fallback.state");

    private readonly IChatClient _inner;
    private readonly FallbackChain _chain;
    private readonly TimeSpan _maxRetryAfter;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _retry;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<RoutingContext, RequestState> _requests = new();
    private string? _defaultModel;
    private bool _defaultModelRead;

    /// <summary>Creates the stage over <paramref name="innerClient"/>.</summary>
    /// <param name="innerClient">The client that serves every model (typically a ledger stage over the Anthropic SDK's <c>AsIChatClient</c>).</param>
    /// <param name="options">Options; the defaults (retries only) when <c>null</c>.</param>
    /// <param name="logger">Logs retries and fallbacks; nothing is logged when <c>null</c>.</param>
    /// <exception cref="ArgumentException">A chain entry or the long-context model is neither a tier nor a model in the price book, or a delay or count is negative.</exception>
    public FallbackChatClient(IChatClient innerClient, FallbackOptions? options = null, ILogger<FallbackChatClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(innerClient);
        options ??= new FallbackOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxRetriesPerModel, $"{nameof(options)}.{nameof(FallbackOptions.MaxRetriesPerModel)}");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BaseDelay, TimeSpan.Zero, $"{nameof(options)}.{nameof(FallbackOptions.BaseDelay)}");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxDelay, options.BaseDelay, $"{nameof(options)}.{nameof(FallbackOptions.MaxDelay)}");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxRetryAfter, TimeSpan.Zero, $"{nameof(options)}.{nameof(FallbackOptions.MaxRetryAfter)}");
        _inner = innerClient;
        var prices = options.PriceBook ?? PriceBook.Default;
        // The decisions (which model next, whether to retry) are the library's FallbackChain, shared with the proxy.
        _chain = FallbackChain.Create(options.Chain, options.LongContextModel, prices, new Catalog.ModelFit(prices, options.TimeProvider), FallbackOptions.SectionName, out var problems);
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems), nameof(options));
        }

        _maxRetryAfter = options.MaxRetryAfter;
        _time = options.TimeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _retry = options.MaxRetriesPerModel == 0 ? ResiliencePipeline.Empty : BuildRetry(options);
    }

    /// <summary>The client every attempt is sent to.</summary>
    public IChatClient InnerClient => _inner;

    /// <summary>The fallback chain as model ids, tiers resolved.</summary>
    public IReadOnlyList<string> Chain => [.. _chain.Entries.Select(e => e.Model)];

    /// <inheritdoc />
    protected override ValueTask<IChatClient> SelectClientAsync(RoutingContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var state = _requests.GetOrAdd(context, static (c, self) => self.Begin(c.Messages, c.ChatOptions), this);
        return ValueTask.FromResult<IChatClient>(new AttemptClient(this, state));
    }

    /// <inheritdoc />
    protected override ValueTask OnRoutingUpdateAsync(RoutingContext context, FailoverChatClientAttempt attempt, bool isTerminal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(attempt);
        if (isTerminal || !_requests.TryGetValue(context, out var state))
        {
            _requests.TryRemove(context, out _);
            return ValueTask.CompletedTask;
        }

        // A non-terminal update is a pre-output, uncancelled failure; Polly has already spent this model's retries.
        var failure = FallbackFailures.Classify(attempt.Exception, cancellationToken.IsCancellationRequested);
        var next = failure switch
        {
            FallbackFailure.ContextOverflow => _chain.NextForLongPrompt(state.Tried, state.Request),
            _ when FallbackFailures.IsRetryable(failure) => _chain.Next(state.Model, state.Tried, state.Request),
            _ => null,
        };
        if (next is null)
        {
            _requests.TryRemove(context, out _);
            // Stryker disable once String : not reachable (docs/testing.md, fallback): Microsoft.Extensions.AI's FailoverChatClient reports a non-terminal attempt only with its exception
            ExceptionDispatchInfo.Throw(attempt.Exception ?? new InvalidOperationException("The attempt failed without an exception."));
        }

        FallbackChatClientLog.FallingBack(_logger, state.RequestId, state.Model ?? "(default)", next.Value.Model, failure.ToString());
        state.EscalatedFrom = state.Model;
        state.Model = next.Value.Model;
        state.Tried.Add(next.Value.Key);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>Asks this stage, then the inner client: <see cref="RoutingChatClient"/> alone does not look below itself.</remarks>
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return base.GetService(serviceType, serviceKey) ?? _inner.GetService(serviceType, serviceKey);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        // Stryker disable once Statement : equivalent (docs/testing.md, fallback): as listed since the second run: the base FailoverChatClient holds nothing to release that a caller could see; the inner client is disposed above
        base.Dispose(disposing);
    }

    private RequestState Begin(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var model = options?.ModelId is { Length: > 0 } modelId ? modelId : DefaultModel();
        var attempt = options.GetAttempt();
        // The request's scope (from a routing stage above) numbers attempts across everything below it: a tool loop's
        // iterations included. Without one, this stage starts the request's scope itself.
        var scope = ModelMixChatOptions.ScopeOf(options) ?? new RequestScope(options.GetRequestId() ?? LedgerIds.New(_time));
        var state = new RequestState(scope, model, attempt is { } first ? first - 1 : 0)
        {
            RoutingCall = attempt == LedgerRecord.RoutingCallAttempt,
            // An explicit attempt number (a cascade tier, a routing call) is counted on locally, as the caller gave it.
            CountsLocally = attempt is not null,
            // What the call asks of a model: the chain passes over models that would reject it as it is (ModelFit).
            Request = ChatRoutingRequest.From(messages, options),
        };
        if (model is not null)
        {
            state.Tried.Add(_chain.KeyOf(model));
        }

        return state;
    }

    private static ChatOptions PrepareAttempt(RequestState state, ChatOptions? callerOptions)
    {
        var options = callerOptions?.Clone() ?? new ChatOptions();
        options.ModelId = state.Model;
        ModelMixChatOptions.SetScope(options, state.Scope); // the request id travels in the scope, not as a key: a cache below still hits
        options.SetAttempt(state.RoutingCall ? LedgerRecord.RoutingCallAttempt
                : state.CountsLocally ? Interlocked.Increment(ref state.Attempt)
                : state.Scope.NextAttempt())
            .SetEscalatedFrom(state.EscalatedFrom);
        state.RetryAfter.RetryAfter = null;
        FallbackRetryAfterHandler.Current = state.RetryAfter;
        return options;
    }

    private ResiliencePipeline BuildRetry(FallbackOptions options)
    {
        var retry = new RetryStrategyOptions
        {
            MaxRetryAttempts = options.MaxRetriesPerModel,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = options.UseJitter,
            Delay = options.BaseDelay,
            MaxDelay = options.MaxDelay,
            ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome.Exception, args.Context)),
            DelayGenerator = args => ValueTask.FromResult(
                args.Context.Properties.TryGetValue(s_stateKey, out var state)
                && args.Outcome.Exception is { } exception
                && FallbackFailures.Classify(exception, args.Context.CancellationToken.IsCancellationRequested) == FallbackFailure.RateLimited
                    ? state.RetryAfter.RetryAfter
                    : null),
            OnRetry = args =>
            {
                if (args.Context.Properties.TryGetValue(s_stateKey, out var state))
                {
                    FallbackChatClientLog.Retrying(_logger, state.RequestId, state.Model ?? "(default)", args.RetryDelay, args.Outcome.Exception?.GetType().Name ?? "?");
                }

                return ValueTask.CompletedTask;
            },
        };
        if (options.Randomizer is { } randomizer)
        {
            retry.Randomizer = randomizer;
        }

        return new ResiliencePipelineBuilder { TimeProvider = _time }.AddRetry(retry).Build();
    }

    private bool ShouldRetry(Exception? exception, ResilienceContext context)
    {
        var failure = FallbackFailures.Classify(exception, context.CancellationToken.IsCancellationRequested);
        if (!FallbackFailures.IsRetryable(failure))
        {
            return false;
        }

        // A retry-after longer than we are willing to wait: fall back to the next model at once instead.
        var retryAfter = failure == FallbackFailure.RateLimited && context.Properties.TryGetValue(s_stateKey, out var state) ? state.RetryAfter.RetryAfter : null;
        return FallbackChain.ShouldRetry(retryable: true, retryAfter, _maxRetryAfter);
    }

    private string? DefaultModel()
    {
        if (!Volatile.Read(ref _defaultModelRead))
        {
            _defaultModel = _inner.GetService<ChatClientMetadata>()?.DefaultModelId;
            // Stryker disable once Statement,Boolean : equivalent (docs/testing.md, fallback): the default model is then read again from the inner client's metadata, the same value (cost only)
            Volatile.Write(ref _defaultModelRead, true);
        }

        return _defaultModel;
    }

    /// <summary>What one request has done so far: the model of its next attempt, the attempts made, the models tried.</summary>
    private sealed class RequestState(RequestScope scope, string? model, int attempts)
    {
        public int Attempt = attempts;

        public RequestScope Scope { get; } = scope;

        public string RequestId => Scope.RequestId;

        /// <summary>Attempts are numbered from the caller's explicit attempt number, not from the request's scope.</summary>
        public bool CountsLocally { get; init; }

        /// <summary>A routing call (attempt 0): its retries and fallbacks are routing calls too, not attempts 1, 2, ….</summary>
        public bool RoutingCall { get; init; }

        public string? Model { get; set; } = model;

        public string? EscalatedFrom { get; set; }

        public RoutingRequest Request { get; init; }

        public HashSet<string> Tried { get; } = new(StringComparer.Ordinal);

        public FallbackRetryAfterHandler.Slot RetryAfter { get; } = new();
    }

    /// <summary>
    /// What <see cref="SelectClientAsync"/> hands to <see cref="FailoverChatClient"/>: one model of one request, tried
    /// through the Polly retry pipeline, each try with its own copy of the options.
    /// </summary>
    private sealed class AttemptClient(FallbackChatClient owner, RequestState state) : IChatClient
    {
        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            var context = ResilienceContextPool.Shared.Get(cancellationToken);
            context.Properties.Set(s_stateKey, state);
            try
            {
                return await owner._retry.ExecuteAsync(
                    static async (ctx, args) =>
                    {
                        var attemptOptions = PrepareAttempt(args.State, args.Options);
                        return await args.Owner._inner.GetResponseAsync(args.Messages, attemptOptions, ctx.CancellationToken).ConfigureAwait(false);
                    },
                    context,
                    new Call(owner, state, messages, options)).ConfigureAwait(false);
            }
            finally
            // Stryker disable once Block : equivalent (docs/testing.md, fallback): the block holds only the Return below, equivalent for the reason given there
            {
                // Stryker disable once Statement : equivalent (docs/testing.md, fallback): a context not returned is left to the garbage collector; the pool only saves an allocation (cost only)
                ResilienceContextPool.Shared.Return(context);
            }
        }

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages,
            ChatOptions? options = null,
            [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            var context = ResilienceContextPool.Shared.Get(cancellationToken);
            context.Properties.Set(s_stateKey, state);
            FirstUpdate first;
            try
            {
                // Retried until the first update: before it nothing was shown, so asking again is safe.
                first = await owner._retry.ExecuteAsync(
                    static async (ctx, args) =>
                    {
                        var attemptOptions = PrepareAttempt(args.State, args.Options);
                        var enumerator = args.Owner._inner.GetStreamingResponseAsync(args.Messages, attemptOptions, ctx.CancellationToken)
                            .GetAsyncEnumerator(ctx.CancellationToken);
                        try
                        {
                            return await enumerator.MoveNextAsync().ConfigureAwait(false)
                                ? new FirstUpdate(enumerator, enumerator.Current)
                                : new FirstUpdate(enumerator, null);
                        }
                        catch
                        {
                            await enumerator.DisposeAsync().ConfigureAwait(false);
                            throw;
                        }
                    },
                    context,
                    new Call(owner, state, messages, options)).ConfigureAwait(false);
            }
            finally
            // Stryker disable once Block : equivalent (docs/testing.md, fallback): the block holds only the Return below, equivalent for the reason given there
            {
                // Stryker disable once Statement : equivalent (docs/testing.md, fallback): a context not returned is left to the garbage collector; the pool only saves an allocation (cost only)
                ResilienceContextPool.Shared.Return(context);
            }

            await using var rest = first.Enumerator;
            if (first.Update is null)
            {
                yield break;
            }

            yield return first.Update;
            while (await rest.MoveNextAsync().ConfigureAwait(false))
            {
                yield return rest.Current;
            }
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => owner._inner.GetService(serviceType, serviceKey);

        public void Dispose()
        {
            // The inner client belongs to the fallback stage.
        }
    }

    private readonly record struct Call(FallbackChatClient Owner, RequestState State, IEnumerable<ChatMessage> Messages, ChatOptions? Options);

    private readonly record struct FirstUpdate(IAsyncEnumerator<ChatResponseUpdate> Enumerator, ChatResponseUpdate? Update);
}
