using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Telemetry;
using SdkStreamEvent = Anthropic.Models.Messages.RawMessageStreamEvent;

namespace ModelMix.Pipeline;

/// <summary>
/// Records one priced <see cref="LedgerRecord"/> per call to the inner client — per attempt, so a retried or escalated
/// request shows every call and what it cost. Failed calls are recorded and their exceptions rethrown; streams are
/// recorded when they end, fault or are abandoned, with the usage seen so far.
/// </summary>
/// <remarks>
/// Usage is exact (cache writes split by TTL, service tier, speed, inference geo) when the inner client is the Anthropic
/// SDK's <c>AsIChatClient</c>, whose responses and stream updates carry the SDK objects as <c>RawRepresentation</c>.
/// Any other inner client is recorded from <see cref="UsageDetails"/>, with the limits described in docs/library.md.
/// Place it below routing and fallback stages so it sees each attempt and the model it was sent to.
/// </remarks>
public sealed class LedgerChatClient : DelegatingChatClient
{
    private readonly AttemptRecorder _recorder;
    private readonly TimeProvider _time;
    private readonly string _defaultPolicy;
    private readonly string? _defaultKeyId;
    private readonly string _unknownModel;
    private readonly ILogger _logger;
    private readonly Func<LedgerIntent, CancellationToken, Task>? _registerIntent;
    private string? _defaultModel;
    private bool _defaultModelRead;

    /// <summary>Creates the stage over <paramref name="innerClient"/>.</summary>
    /// <param name="innerClient">The client whose calls are recorded.</param>
    /// <param name="recorder">Prices attempts and records them in the ledger.</param>
    /// <param name="options">Options; the defaults when <c>null</c>.</param>
    /// <param name="logger">Logs recording failures; nothing is logged when <c>null</c>.</param>
    public LedgerChatClient(IChatClient innerClient, AttemptRecorder recorder, LedgerChatClientOptions? options = null, ILogger<LedgerChatClient>? logger = null)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(recorder);
        options ??= new LedgerChatClientOptions();
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DefaultPolicy, $"{nameof(options)}.{nameof(LedgerChatClientOptions.DefaultPolicy)}");
        ArgumentException.ThrowIfNullOrWhiteSpace(options.UnknownModel, $"{nameof(options)}.{nameof(LedgerChatClientOptions.UnknownModel)}");
        _recorder = recorder;
        _time = options.TimeProvider ?? TimeProvider.System;
        _defaultPolicy = options.DefaultPolicy;
        _defaultKeyId = options.DefaultKeyId;
        _unknownModel = options.UnknownModel;
        _registerIntent = options.RegisterIntent;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var attempt = Begin(options, streaming: false);
        using var activity = attempt.Activity;
        await RegisterIntentAsync(attempt, messages, options).ConfigureAwait(false);
        var upstream = UpstreamRequestIdHandler.Open(); // the response's request-id, when the SDK client has the handler
        var sentCancelled = cancellationToken.IsCancellationRequested; // cancelled before anything was sent: nothing to bill
        ChatResponse response;
        try
        {
            response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            var failure = AttemptFailure.From(exception, cancellationToken.IsCancellationRequested, midStream: false);
            var record = attempt.Finish(_time) with
            {
                Status = failure.Status,
                ErrorType = failure.ErrorType,
                HttpStatus = failure.HttpStatus,
                UpstreamRequestId = failure.UpstreamRequestId ?? upstream?.RequestId,
            };
            if (failure.ErrorType == AttemptFailure.Cancelled && !sentCancelled)
            {
                // The caller cancelled a call that was sent: the API may bill it, and no usage came back, so it is
                // billed the documented worst case (UsageEstimate, docs/ledger.md "Clients that hang up").
                record = record with
                {
                    Usage = UsageEstimate.Unanswered(ChatRoutingRequest.From(messages, options).EstimatedInputTokens, MaxOutputTokensOf(options)),
                    UsageEstimated = true,
                    ClientDisconnected = true,
                };
            }

            Observe(attempt, await RecordAsync(record).ConfigureAwait(false));
            throw;
        }

        var stored = await RecordAsync(attempt.Finish(_time) with
        {
            ResponseModel = response.ModelId,
            Usage = ChatUsage.FromResponse(response),
            ThinkingBlocksDropped = ChatUsage.DroppedThinking(response.RawRepresentation) ?? 0,
            HttpStatus = 200,
            UpstreamRequestId = upstream?.RequestId,
        }).ConfigureAwait(false);
        Observe(attempt, stored);
        Annotate(response.AdditionalProperties ??= [], attempt, stored);
        return response;
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var attempt = Begin(options, streaming: true);
        using var activity = attempt.Activity;
        await RegisterIntentAsync(attempt, messages, options).ConfigureAwait(false);
        var upstream = UpstreamRequestIdHandler.Open(); // the response's request-id, when the SDK client has the handler
        var recorded = false;
        string? responseId = null;
        var exactUsage = default(TokenUsage);
        var approximateUsage = default(TokenUsage);
        var sawExactUsage = false;
        string? responseModel = null;
        var thinkingDropped = 0;
        var updates = 0;
        long contentDeltas = 0, contentBytes = 0;
        var sawFinalUsage = false;
        var completed = false;
        Exception? fault = null;
        IAsyncEnumerator<ChatResponseUpdate>? enumerator = null;
        try
        {
            enumerator = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (true)
            {
                ChatResponseUpdate update;
                try
                {
                    if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                    {
                        completed = true;
                        break;
                    }

                    update = enumerator.Current;
                }
                catch (Exception exception)
                {
                    fault = exception;
                    throw;
                }

                updates++;
                responseModel = update.ModelId ?? responseModel;
                responseId = update.ResponseId ?? responseId;
                if (update.RawRepresentation is SdkStreamEvent streamEvent && ChatUsage.TryApply(ref exactUsage, streamEvent))
                {
                    sawExactUsage = true;
                    sawFinalUsage |= streamEvent.TryPickDelta(out _);
                }

                thinkingDropped = ChatUsage.DroppedThinking(update.RawRepresentation) ?? thinkingDropped;

                var generated = false;
                foreach (var content in update.Contents)
                {
                    if (content is UsageContent { Details: { } details })
                    {
                        approximateUsage = ChatUsage.Add(approximateUsage, ChatUsage.FromUsageDetails(details));
                    }
                    else if (content is TextContent { Text: { } text })
                    {
                        contentBytes += System.Text.Encoding.UTF8.GetByteCount(text);
                        generated = true;
                    }
                    else if (content is TextReasoningContent { Text: { } reasoning })
                    {
                        contentBytes += System.Text.Encoding.UTF8.GetByteCount(reasoning);
                        generated = true;
                    }
                }

                if (generated)
                {
                    contentDeltas++;
                }

                yield return update;
            }

            // The stream ended: record it now (disposing the inner stream first, as the finally below would), so its
            // exact cost can go in one last update that carries no content.
            var inner = enumerator;
            enumerator = null;
            await inner.DisposeAsync().ConfigureAwait(false);
            var stored = await RecordAsync(StreamRecord()).ConfigureAwait(false);
            recorded = true;
            Observe(attempt, stored);
            var properties = new AdditionalPropertiesDictionary();
            Annotate(properties, attempt, stored);
            yield return new ChatResponseUpdate { ResponseId = responseId, ModelId = responseModel, AdditionalProperties = properties };
        }
        finally
        {
            if (enumerator is not null)
            {
                try
                {
                    await enumerator.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception) when (!completed)
                {
                    // Disposing a faulted or abandoned stream may throw too; the original outcome is what counts.
                }
            }

            if (!recorded)
            {
                Observe(attempt, await RecordAsync(StreamRecord()).ConfigureAwait(false));
            }
        }

        LedgerRecord StreamRecord()
        {
            var record = attempt.Finish(_time) with
            {
                ResponseModel = responseModel,
                Usage = sawExactUsage ? exactUsage : approximateUsage,
                ThinkingBlocksDropped = thinkingDropped,
                HttpStatus = updates > 0 ? 200 : 0,
                UpstreamRequestId = upstream?.RequestId,
            };
            if (fault is not null)
            {
                var failure = AttemptFailure.From(fault, cancellationToken.IsCancellationRequested, midStream: updates > 0);
                record = record with
                {
                    Status = failure.Status,
                    ErrorType = failure.ErrorType,
                    HttpStatus = failure.HttpStatus,
                    UpstreamRequestId = failure.UpstreamRequestId ?? upstream?.RequestId,
                };
            }
            else if (!completed)
            {
                // The consumer stopped reading (break, exception in its loop body, or cancellation after the last update).
                record = record with { Status = LedgerStatus.Failed, ErrorType = "stream_abandoned" };
            }

            if (!completed && updates > 0 && !sawFinalUsage)
            {
                // The stream ended before its final usage (abandoned, cancelled or cut): the input as message_start
                // reported it, and an output of at least what was received (UsageEstimate, docs/ledger.md).
                var relayed = UsageEstimate.StreamOutputTokens(contentDeltas, contentBytes);
                record = record with
                {
                    Usage = relayed > record.Usage.OutputTokens ? record.Usage with { OutputTokens = relayed } : record.Usage,
                    UsageEstimated = true,
                    ClientDisconnected = fault is null || cancellationToken.IsCancellationRequested,
                };
            }

            return record;
        }
    }

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType == typeof(AttemptRecorder) ? _recorder : base.GetService(serviceType, serviceKey);
    }

    /// <summary>
    /// The output bound of a call: <see cref="ChatOptions.MaxOutputTokens"/>, else 4,096 — the default the official SDK's
    /// <c>AsIChatClient</c> sends when neither the options nor the client set one.
    /// </summary>
    private static long MaxOutputTokensOf(ChatOptions? options) => options?.MaxOutputTokens ?? 4096;

    private PendingAttempt Begin(ChatOptions? options, bool streaming)
    {
        var startedAt = _time.GetUtcNow();
        var scope = ModelMixChatOptions.ScopeOf(options);
        var routedModel = options?.ModelId is { Length: > 0 } modelId ? modelId : DefaultModel() ?? _unknownModel;
        var record = new LedgerRecord
        {
            Id = LedgerIds.New(startedAt),
            Timestamp = startedAt,
            RequestId = options.GetRequestId() ?? LedgerIds.New(startedAt),
            SessionId = options.GetSessionId(),
            KeyId = options.GetKeyId() ?? _defaultKeyId,
            TaskLabel = options.GetTaskLabel(),
            RequestedModel = options.GetRequestedModel() ?? routedModel,
            RoutedModel = routedModel,
            Policy = options.GetPolicy() ?? _defaultPolicy,
            Reason = options.GetRoutingReason(),
            Attempt = options.GetAttempt() ?? scope?.NextAttempt() ?? 1,
            EscalatedFrom = options.GetEscalatedFrom(),
            Streaming = streaming,
            ShadowPairId = options.GetShadowPairId(),
            Effort = _recorder.EffortOf(routedModel, ChatRoutingRequest.TraitsOf(options).Effort, out var effortIsDefault),
            EffortIsDefault = effortIsDefault,
        };
        var activity = ModelMixActivity.Source.StartActivity(ModelMixActivity.AttemptSpanName, ActivityKind.Internal);
        return new PendingAttempt(record, _time.GetTimestamp(), scope ?? new RequestScope(record.RequestId), activity);
    }

    /// <summary>
    /// Hands the attempt's intent to <see cref="LedgerChatClientOptions.RegisterIntent"/> and waits for it (not on the
    /// caller's token: an intent made durable is followed by the attempt and its record, cancelled or not, so it never
    /// outlives them). Worst case: the prompt estimated as for a cancelled call, and the output bound. It counts against
    /// the budget reservation in force for the flow (<see cref="IntentReservation"/>), if any.
    /// </summary>
    private Task RegisterIntentAsync(PendingAttempt attempt, IEnumerable<ChatMessage> messages, ChatOptions? options) =>
        _registerIntent is not { } register
            ? Task.CompletedTask
            : register(LedgerIntent.For(attempt.Record, UsageEstimate.Unanswered(ChatRoutingRequest.From(messages, options).EstimatedInputTokens, MaxOutputTokensOf(options)), IntentReservation.Current), CancellationToken.None);

    /// <summary>Adds a recorded attempt to its request's scope and tags its span.</summary>
    private static void Observe(PendingAttempt attempt, LedgerRecord stored)
    {
        attempt.Scope.AddCost(stored.Cost?.Total);
        attempt.Scope.LastRoutedModel = stored.RoutedModel;
        if (attempt.Activity is { } activity)
        {
            ModelMixActivity.TagAttempt(activity, stored);
        }
    }

    /// <summary>Writes the decision and the request's cost so far into an answer's properties.</summary>
    private static void Annotate(AdditionalPropertiesDictionary properties, PendingAttempt attempt, LedgerRecord stored)
    {
        ModelMixResponse.Annotate(properties, attempt.Scope, stored.RoutedModel, stored.Policy, stored.Reason);
        properties[ModelMixResponse.AttemptsKey] = Math.Max(attempt.Scope.Attempts, stored.Attempt);
    }

    private string? DefaultModel()
    {
        if (!Volatile.Read(ref _defaultModelRead))
        {
            _defaultModel = InnerClient.GetService<ChatClientMetadata>()?.DefaultModelId;
            Volatile.Write(ref _defaultModelRead, true);
        }

        return _defaultModel;
    }

    /// <summary>Records <paramref name="record"/>; returns it as stored (priced), or as priced when recording failed.</summary>
    private async ValueTask<LedgerRecord> RecordAsync(LedgerRecord record)
    {
        try
        {
            // Not the caller's token: a cancelled call was still made (and may have been billed), so it is recorded.
            var stored = await _recorder.RecordAsync(record, CancellationToken.None).ConfigureAwait(false);
            if (stored.Status == LedgerStatus.Unpriced && _recorder.IsFirstUnpricedSighting(stored.ResponseModel ?? stored.RoutedModel))
            {
                LedgerChatClientLog.Unpriced(_logger, stored.RequestId, stored.ResponseModel ?? stored.RoutedModel);
            }

            return stored;
        }
        catch (Exception exception)
        {
            // The answer has been received (and paid for); failing the call now would only invite a paid retry.
            LedgerChatClientLog.RecordFailed(_logger, exception, record.RequestId, record.Attempt, record.RoutedModel);
            return _recorder.Price(record);
        }
    }

    private readonly record struct PendingAttempt(LedgerRecord Record, long StartedTimestamp, RequestScope Scope, Activity? Activity)
    {
        public LedgerRecord Finish(TimeProvider time) =>
            Record with { LatencyMs = (long)time.GetElapsedTime(StartedTimestamp).TotalMilliseconds };
    }
}
