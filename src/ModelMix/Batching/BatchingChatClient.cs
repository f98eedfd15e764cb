using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Batching;
using ModelMix.Pricing;

namespace ModelMix.Pipeline;

/// <summary>
/// The batching stage of the library door: a call marked non-urgent (<see cref="ModelMixChatOptions.WithBatch"/>, or a
/// routing rule with <c>"Batch": true</c>) is queued in the durable batch queue (<see cref="IBatchStore"/>) instead of
/// being sent; the <see cref="Batcher"/> (see <see cref="BatchRunner"/>) submits it as a Message Batch, collects its
/// answer and records it in the ledger at the batch price. Other calls pass through unchanged.
/// </summary>
/// <remarks>
/// <para>
/// Follows Microsoft.Extensions.AI's background responses. With <see cref="ChatOptions.AllowBackgroundResponses"/>
/// set, <see cref="GetResponseAsync"/> returns at once a response without messages whose
/// <see cref="ChatResponse.ContinuationToken"/> is a <see cref="BatchContinuationToken"/>; calling again with it in
/// <see cref="ChatOptions.ContinuationToken"/> (and no messages) returns the answer once it is in, else another
/// response with the token. Without it the call waits — polling the queue with back-off — and returns the answer; a
/// canceled wait throws <see cref="BatchWaitCanceledException"/>, which carries the token: the call stays queued.
/// An answer the API refused, or a call canceled or expired in its batch, throws <see cref="BatchedCallException"/>.
/// </para>
/// <para>
/// The Messages body is built by the official Anthropic SDK's <c>AsIChatClient</c> (in-process, over a handler that
/// captures the body and never reaches the network), so a batched call sends what the synchronous call would have
/// sent; the stored answer is converted back the same way. Compose it below routing, fallback and prompt caching (so
/// the call is routed and gets its 1-hour breakpoints) and above the ledger: the batcher records batched calls itself,
/// once, at the batch price. Batched calls cannot stream.
/// </para>
/// </remarks>
public sealed partial class BatchingChatClient : DelegatingChatClient
{
    /// <summary>The key of the batch job id in a final response's <see cref="ChatResponse.AdditionalProperties"/>.</summary>
    public const string JobIdProperty = "modelmix.batch_job";

    private readonly IBatchStore _store;
    private readonly Batcher? _batcher;
    private readonly AnthropicWireTranslator _translator;
    private readonly string? _defaultModel;
    private readonly PriceBook _prices;
    private readonly TimeProvider _time;
    private readonly TimeSpan _pollInterval;
    private readonly TimeSpan _maxPollInterval;
    private readonly string? _defaultKeyId;
    private readonly ILogger _logger;

    /// <summary>Creates the stage over <paramref name="innerClient"/>.</summary>
    /// <param name="innerClient">The client that serves calls not marked for batching (e.g. ledger over the SDK's <c>AsIChatClient</c>).</param>
    /// <param name="options">Options; <see cref="BatchingChatClientOptions.Store"/> is required.</param>
    /// <param name="logger">Logs queued calls and canceled waits; nothing when null.</param>
    public BatchingChatClient(IChatClient innerClient, BatchingChatClientOptions options, ILogger<BatchingChatClient>? logger = null)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(options);
        _store = options.Store ?? throw new ArgumentException("The batching stage needs a batch store (BatchingChatClientOptions.Store), e.g. new SqliteBatchStore(\"modelmix.db\").", nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.WaitPollInterval, TimeSpan.Zero, nameof(options.WaitPollInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxWaitPollInterval, options.WaitPollInterval, nameof(options.MaxWaitPollInterval));
        _batcher = options.Batcher;
        _defaultModel = innerClient.GetService<ChatClientMetadata>()?.DefaultModelId;
        _translator = new AnthropicWireTranslator(_defaultModel, options.DefaultMaxOutputTokens);
        _prices = options.PriceBook ?? PriceBook.Default;
        _time = options.TimeProvider ?? TimeProvider.System;
        _pollInterval = options.WaitPollInterval;
        _maxPollInterval = options.MaxWaitPollInterval;
        _defaultKeyId = options.DefaultKeyId;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (BatchContinuationToken.TryParse(options?.ContinuationToken, out var resumed))
        {
            if (messages.Any())
            {
                throw new InvalidOperationException("Messages are not allowed when continuing a batched call with a continuation token; pass an empty list.");
            }

            return options!.AllowBackgroundResponses == true
                ? await TryCollectAsync(resumed, cancellationToken).ConfigureAwait(false) ?? await PendingAsync(resumed, cancellationToken).ConfigureAwait(false)
                : await WaitAsync(resumed, cancellationToken).ConfigureAwait(false);
        }

        if (!options.GetBatch())
        {
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }

        var (token, routedModel) = await EnqueueAsync(messages, options!, cancellationToken).ConfigureAwait(false);
        return options!.AllowBackgroundResponses == true
            ? Pending(token, routedModel)
            : await WaitAsync(token, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The call is marked for batching, or continues a batched call: a batched answer cannot stream.</exception>
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (options.GetBatch() || BatchContinuationToken.TryParse(options?.ContinuationToken, out _))
        {
            throw new NotSupportedException(
                "A batched call cannot stream: its answer comes from the Message Batches API as a whole, up to 24 hours later. Use GetResponseAsync (with AllowBackgroundResponses for a continuation token), or drop the batch mark (WithBatch(false)).");
        }

        return base.GetStreamingResponseAsync(messages, options, cancellationToken);
    }

    /// <summary>Queues the call as a job of one; returns its token and the model it goes to.</summary>
    private async Task<(BatchContinuationToken Token, string Model)> EnqueueAsync(IEnumerable<ChatMessage> messages, ChatOptions options, CancellationToken cancellationToken)
    {
        var model = string.IsNullOrEmpty(options.ModelId) ? _defaultModel : options.ModelId;
        if (model is null)
        {
            throw new InvalidOperationException("A batched call needs a model: set ChatOptions.ModelId, route it, or give the inner client a default model.");
        }

        var now = _time.GetUtcNow();
        if (!_prices.TryGetPrice(model, now, out _))
        {
            throw new InvalidOperationException($"A batched call to '{model}' cannot be queued: the price book ({_prices.SourceName}) has no price for it, so its batch cost could not be recorded.");
        }

        // The SDK builds the body; the batch options themselves (token, background flag) are not part of it.
        var send = options.Clone();
        send.AllowBackgroundResponses = null;
        send.ContinuationToken = null;
        var body = await _translator.ToParamsAsync(messages, send, cancellationToken).ConfigureAwait(false);

        var input = new BatchJobInput
        {
            Id = BatchIds.NewJobId(now),
            KeyId = options.GetKeyId() ?? _defaultKeyId,
            SessionId = options.GetSessionId(),
            TaskLabel = options.GetTaskLabel(),
            Items = [new BatchItemInput("0", body, options.GetRequestedModel() ?? model, model, options.GetPolicy() ?? "passthrough", options.GetRoutingReason())],
        };
        var (job, _) = await _store.CreateJobAsync(input, now, cancellationToken).ConfigureAwait(false);
        _batcher?.Wake();
        LogQueued(_logger, job.Id, model, options.GetRequestId());
        return (new BatchContinuationToken(job.Id), model);
    }

    /// <summary>Waits for the call's answer, looking at the queue with back-off.</summary>
    private async Task<ChatResponse> WaitAsync(BatchContinuationToken token, CancellationToken cancellationToken)
    {
        var delay = _pollInterval;
        try
        {
            while (true)
            {
                if (await TryCollectAsync(token, cancellationToken).ConfigureAwait(false) is { } done)
                {
                    return done;
                }

                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _maxPollInterval.Ticks));
            }
        }
        catch (OperationCanceledException exception) when (cancellationToken.IsCancellationRequested && exception is not BatchWaitCanceledException)
        {
            LogWaitCanceled(_logger, token.JobId);
            throw new BatchWaitCanceledException(token, exception, cancellationToken);
        }
    }

    /// <summary>The answer when the call has one; null while it is queued or in a running batch; throws for the other outcomes.</summary>
    private async Task<ChatResponse?> TryCollectAsync(BatchContinuationToken token, CancellationToken cancellationToken)
    {
        var items = await _store.GetItemsAsync(token.JobId, cancellationToken).ConfigureAwait(false);
        if (items.Count == 0)
        {
            throw new InvalidOperationException($"The batch queue has no job '{token.JobId}': the continuation token belongs to another store.");
        }

        var item = items[0];
        switch (item.Status)
        {
            case "succeeded":
            {
                string message;
                using (var document = JsonDocument.Parse(item.Result!))
                {
                    message = document.RootElement.GetProperty("message").GetRawText();
                }

                var response = await _translator.ToResponseAsync(message, cancellationToken).ConfigureAwait(false);
                (response.AdditionalProperties ??= [])[JobIdProperty] = token.JobId;
                return response;
            }

            case "errored":
            {
                string? errorType = null;
                string? errorMessage = null;
                using (var document = JsonDocument.Parse(item.Result!))
                {
                    if (document.RootElement.TryGetProperty("error", out var body) && body.TryGetProperty("error", out var inner))
                    {
                        errorType = inner.TryGetProperty("type", out var t) ? t.GetString() : null;
                        errorMessage = inner.TryGetProperty("message", out var m) ? m.GetString() : null;
                    }
                }

                throw new BatchedCallException(token.JobId, "errored", errorType, errorMessage);
            }

            case "canceled" or "expired":
                throw new BatchedCallException(token.JobId, item.Status, null, null);

            default:
                return null; // queued, or submitted in a batch that has not ended
        }
    }

    private async Task<ChatResponse> PendingAsync(BatchContinuationToken token, CancellationToken cancellationToken)
    {
        var items = await _store.GetItemsAsync(token.JobId, cancellationToken).ConfigureAwait(false);
        return Pending(token, items.Count > 0 ? items[0].RoutedModel : null);
    }

    private static ChatResponse Pending(BatchContinuationToken token, string? model) => new()
    {
        ContinuationToken = token,
        ModelId = model,
        ResponseId = token.JobId,
    };

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(_store) ? _store : base.GetService(serviceType, serviceKey);
    }

    [LoggerMessage(EventId = 5601, Level = LogLevel.Information, Message = "Queued batched call {JobId} for {Model} (request {RequestId})")]
    private static partial void LogQueued(ILogger logger, string jobId, string model, string? requestId);

    [LoggerMessage(EventId = 5602, Level = LogLevel.Information, Message = "Waiting for batched call {JobId} was canceled; it stays queued; resume with ChatOptions.ContinuationToken = new BatchContinuationToken(job id)")]
    private static partial void LogWaitCanceled(ILogger logger, string jobId);
}
