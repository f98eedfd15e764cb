using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Routing;
using ModelMix.Shadow;

namespace ModelMix.Pipeline;

/// <summary>
/// Shadow mode in the library door: a sampled share of calls (per task label, deterministic by request id) is also
/// sent to a candidate model after the live answer has been returned, on the <see cref="ShadowRunner"/>'s background
/// workers, and the pair is compared and stored. The caller's answer is never delayed, changed or failed by it.
/// </summary>
/// <remarks>
/// Place it above the ledger stage (<c>UseModelMixShadow</c> before <c>UseModelMixLedger</c>): it stamps the pair id on the
/// live call's options so the live record carries it, and sends the shadow call through the same inner client, so the
/// ledger stage records it (policy <c>shadow</c>, request id = pair id).
/// </remarks>
public sealed class ShadowChatClient : DelegatingChatClient
{
    private readonly ShadowRunner _runner;
    private readonly PriceBook _prices;
    private readonly Catalog.ModelFit _fit;
    private readonly TimeProvider _time;
    private readonly bool _ownsRunner;

    /// <summary>Creates the stage.</summary>
    /// <param name="innerClient">The live client (with the ledger stage below).</param>
    /// <param name="runner">Runs the shadow jobs.</param>
    /// <param name="prices">Prices the live answer for the pair row.</param>
    /// <param name="ownsRunner">Whether disposing the stage disposes the runner.</param>
    public ShadowChatClient(IChatClient innerClient, ShadowRunner runner, PriceBook prices, bool ownsRunner = false)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(prices);
        _runner = runner;
        _prices = prices;
        _fit = new Catalog.ModelFit(prices);
        _time = runner.Options.TimeProvider ?? TimeProvider.System;
        _ownsRunner = ownsRunner;
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var startedAt = _time.GetUtcNow();
        var requestId = options.GetRequestId() ?? LedgerIds.New(startedAt);
        if (_runner.TrySample(requestId, options.GetTaskLabel()) is not { } pairId)
        {
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }

        var list = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        var liveOptions = (options?.Clone() ?? new ChatOptions()).SetRequestId(requestId).SetShadowPairId(pairId);
        var response = await base.GetResponseAsync(list, liveOptions, cancellationToken).ConfigureAwait(false);
        Submit(list, options, requestId, pairId, startedAt, response);
        return response;
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var startedAt = _time.GetUtcNow();
        var requestId = options.GetRequestId() ?? LedgerIds.New(startedAt);
        if (_runner.TrySample(requestId, options.GetTaskLabel()) is not { } pairId)
        {
            await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            {
                yield return update;
            }

            yield break;
        }

        var list = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        var liveOptions = (options?.Clone() ?? new ChatOptions()).SetRequestId(requestId).SetShadowPairId(pairId);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in base.GetStreamingResponseAsync(list, liveOptions, cancellationToken).ConfigureAwait(false))
        {
            updates.Add(update);
            yield return update;
        }

        // Only a stream read to its end is compared; the shadow call itself is not streamed.
        Submit(list, options, requestId, pairId, startedAt, updates.ToChatResponse());
    }

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType == typeof(ShadowRunner) ? _runner : base.GetService(serviceType, serviceKey);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && _ownsRunner)
        {
            _runner.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        base.Dispose(disposing);
    }

    private void Submit(IReadOnlyList<ChatMessage> messages, ChatOptions? options, string requestId, string pairId, DateTimeOffset startedAt, ChatResponse response)
    {
        // The candidate as resolved at start (a tier is its model; opus@low sends opus at effort low).
        var candidate = _runner.CandidateModelId;
        var effort = _runner.CandidateEffort;
        var liveModel = options?.ModelId ?? response.ModelId ?? "unknown";
        var taskLabel = options.GetTaskLabel();
        _runner.TryEnqueue(new ShadowJob
        {
            PairId = pairId,
            LiveRequestId = requestId,
            TaskLabel = taskLabel,
            LiveTimestamp = startedAt,
            ReadLive = () =>
            {
                var usage = ChatUsage.FromResponse(response);
                var prompt = string.Join("\n\n", messages.Select(message => message.Text).Where(text => text.Length > 0));
                var toolCall = response.Messages.SelectMany(message => message.Contents).Any(content => content is FunctionCallContent);
                // The candidate is only asked what it would accept as it is (forced tool use, sampling, …: ModelFit).
                var request = ChatRoutingRequest.From(messages, options);
                if (effort != Catalog.EffortLevel.Unspecified)
                {
                    request = request with { Traits = request.Traits with { Effort = effort } };
                }

                var rejects = _fit.Check(candidate, request) != Catalog.RuleViolation.None;
                return new ShadowLiveAnswer(
                    liveModel,
                    response.Text,
                    usage,
                    ShadowRunner.PriceOrNull(_prices, startedAt, liveModel, response.ModelId, usage),
                    prompt,
                    toolCall ? "tool_call" : rejects ? "candidate_rejects_request" : null);
            },
            WorstCaseUsd = at =>
            {
                var price = _prices.GetPrice(candidate, at);
                var input = messages.Sum(message => TokenEstimator.Estimate(message.Text)) * 2 + 16;
                var output = options?.MaxOutputTokens ?? 4096;
                return ((input * price.Input) + (output * price.Output)) / 1_000_000m;
            },
            RunShadowAsync = async (live, ct) =>
            {
                var shadowOptions = (options?.Clone() ?? new ChatOptions())
                    .SetRequestId(pairId)
                    .SetShadowPairId(pairId)
                    .SetAttempt(1)
                    .SetRequestedModel(options?.ModelId ?? live.Model)
                    .SetRouting(ShadowRunner.Policy, $"shadow of request {requestId} on {_runner.CandidateLabel}");
                shadowOptions.ModelId = candidate;
                if (effort != Catalog.EffortLevel.Unspecified)
                {
                    shadowOptions.SetEffort(effort);
                }

                var startedShadow = _time.GetUtcNow();
                var answer = await InnerClient.GetResponseAsync(messages, shadowOptions, ct).ConfigureAwait(false);
                var usage = ChatUsage.FromResponse(answer);
                return new ShadowAnswer(answer.Text, usage, ShadowRunner.PriceOrNull(_prices, startedShadow, candidate, answer.ModelId, usage));
            },
        });
    }
}
