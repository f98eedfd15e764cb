using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Ledger;
using ModelMix.Pricing;
using SdkStreamEvent = Anthropic.Models.Messages.RawMessageStreamEvent;

namespace ModelMix.Pipeline;

/// <summary>
/// Stops runaway agent loops per session (<see cref="ModelMixChatOptions.GetSessionId"/>): too many model calls, too
/// much spend, spend too fast, or the model asking for the same tool call over and over. A tripped limit throws a
/// <see cref="LoopGuardException"/> and is recorded in the ledger as an error of type <c>loop_guard</c>.
/// </summary>
/// <remarks>
/// Step and spend limits are checked before a call is dispatched, so the refused call costs nothing. The repeated
/// tool-call check runs on each response, before a tool-invoking client above can run the tool again; that response
/// was already paid for and is recorded by a ledger stage below. Spend is priced from each response's usage (exact for
/// the Anthropic SDK's <c>AsIChatClient</c>, from <see cref="UsageDetails"/> otherwise). Place it above routing and
/// the ledger, and below <see cref="FunctionInvokingChatClient"/> so that it sees every step of a tool loop.
/// </remarks>
public sealed class LoopGuardChatClient : DelegatingChatClient
{
    /// <summary>The <see cref="LedgerRecord.ErrorType"/> of a trip.</summary>
    public const string ErrorType = "loop_guard";

    private readonly LoopGuardOptions _options;
    private readonly TimeProvider _time;
    private readonly PriceBook _prices;
    private readonly AttemptRecorder? _configuredRecorder;
    private readonly ILogger _logger;
    private readonly LoopGuard _guard;

    /// <summary>Creates the guard over <paramref name="innerClient"/>.</summary>
    /// <param name="innerClient">The client whose calls are guarded.</param>
    /// <param name="options">Limits and collaborators; the defaults when <c>null</c>.</param>
    /// <param name="logger">Logs trips and unpriced responses; nothing is logged when <c>null</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public LoopGuardChatClient(IChatClient innerClient, LoopGuardOptions? options = null, ILogger<LoopGuardChatClient>? logger = null)
        : base(innerClient)
    {
        options ??= new LoopGuardOptions();
        _options = options;
        _time = options.TimeProvider ?? TimeProvider.System;
        _guard = new LoopGuard(options, _time); // the decisions (LoopGuard/LoopGuard.cs); this stage only adapts calls to it
        _configuredRecorder = options.Recorder;
        _prices = options.Prices ?? options.Recorder?.Prices ?? PriceBook.Default;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        foreach (var key in options.ObsoleteKeys)
        {
            LoopGuardLog.ObsoleteKey(_logger, "ModelMix:LoopGuard", key, "use MaxSpendPerWindow (and SpendWindow, one minute by default)");
        }
    }

    /// <summary>The recorder registered in the services, used when neither the options nor the inner pipeline give one.</summary>
    internal AttemptRecorder? ServicesRecorder { get; set; }

    /// <summary>The number of sessions currently remembered (idle ones are forgotten after the idle timeout).</summary>
    public int SessionCount => _guard.SessionCount;

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var session = await BeginAsync(options).ConfigureAwait(false);
        if (session is null)
        {
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }

        var response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        var usage = ChatUsage.FromResponse(response);
        var calls = response.Messages.SelectMany(static m => m.Contents).OfType<FunctionCallContent>();
        await EndAsync(session, options, response.ModelId, usage, calls).ConfigureAwait(false);
        return response;
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var session = await BeginAsync(options).ConfigureAwait(false);
        if (session is null)
        {
            await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            {
                yield return update;
            }

            yield break;
        }

        var exactUsage = default(TokenUsage);
        var approximateUsage = default(TokenUsage);
        var sawExactUsage = false;
        string? responseModel = null;
        var calls = new List<FunctionCallContent>();
        var completed = false;
        try
        {
            await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            {
                responseModel = update.ModelId ?? responseModel;
                if (update.RawRepresentation is SdkStreamEvent streamEvent && ChatUsage.TryApply(ref exactUsage, streamEvent))
                {
                    sawExactUsage = true;
                }

                foreach (var content in update.Contents)
                {
                    switch (content)
                    {
                        case UsageContent { Details: { } details }:
                            approximateUsage = ChatUsage.Add(approximateUsage, ChatUsage.FromUsageDetails(details));
                            break;
                        case FunctionCallContent call:
                            calls.Add(call);
                            break;
                    }
                }

                yield return update;
            }

            completed = true;
        }
        finally
        {
            if (!completed)
            {
                // A faulted or abandoned stream may still have been billed: count what was seen.
                AddSpend(session, options, responseModel, sawExactUsage ? exactUsage : approximateUsage);
            }
        }

        await EndAsync(session, options, responseModel, sawExactUsage ? exactUsage : approximateUsage, calls).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType == typeof(LoopGuardChatClient) ? this : base.GetService(serviceType, serviceKey);
    }

    /// <summary>Forgets a session (e.g. when the app knows the conversation ended).</summary>
    /// <param name="sessionId">The session id.</param>
    /// <returns>Whether the session was remembered.</returns>
    /// <param name="keyId">The key the session belongs to (<see cref="ModelMixChatOptions.GetKeyId"/>), if any: sessions are per key.</param>
    public bool Forget(string sessionId, string? keyId = null)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        return _guard.Forget(keyId, sessionId);
    }

    private async ValueTask<LoopGuardSession?> BeginAsync(ChatOptions? options)
    {
        if (_guard.SessionOf(options.GetSessionId()) is not { } sessionId)
        {
            return null;
        }

        if (_guard.Begin(options.GetKeyId(), sessionId, out var session) is { } trip)
        {
            await TripAsync(trip, options).ConfigureAwait(false);
        }

        return session;
    }

    private async ValueTask EndAsync(LoopGuardSession session, ChatOptions? options, string? responseModel, TokenUsage usage, IEnumerable<FunctionCallContent> calls)
    {
        AddSpend(session, options, responseModel, usage);
        if (_options.MaxRepeatedToolCalls is null)
        {
            return;
        }

        var fingerprints = calls.Where(static call => !call.InformationalOnly).Select(static call => (LoopGuardFingerprint.Of(call), call.Name));
        if (_guard.CountToolCalls(session, fingerprints) is { } trip)
        {
            await TripAsync(trip, options).ConfigureAwait(false);
        }
    }

    private void AddSpend(LoopGuardSession session, ChatOptions? options, string? responseModel, TokenUsage usage) =>
        _guard.AddSpend(session, Price(options, responseModel, usage, _time.GetUtcNow()));

    private decimal Price(ChatOptions? options, string? responseModel, TokenUsage usage, DateTimeOffset at)
    {
        if (usage.InputTokens == 0 && usage.OutputTokens == 0 && usage.TotalInputTokens == 0 && !usage.HasServerToolUse)
        {
            return 0m;
        }

        // As the ledger prices: the model that answered first, the model the call was sent to otherwise.
        var model = responseModel is not null && _prices.TryResolveId(responseModel, out _) ? responseModel : RoutedModel(options);
        try
        {
            return _prices.Cost(model, usage, at).Total;
        }
        catch (PricingException exception)
        {
            LoopGuardLog.Unpriced(_logger, exception, model);
            return 0m;
        }
    }

    private string RoutedModel(ChatOptions? options) =>
        options?.ModelId is { Length: > 0 } modelId ? modelId
        : InnerClient.GetService<ChatClientMetadata>()?.DefaultModelId ?? "unknown";

    private async ValueTask TripAsync(LoopGuardTrip tripped, ChatOptions? options)
    {
        var now = _time.GetUtcNow();
        var trip = new LoopGuardException(tripped.Limit, tripped.SessionId, tripped.Observed, tripped.LimitValue, tripped.FunctionName);
        LoopGuardLog.Tripped(_logger, trip.SessionId, trip.Limit, trip.Observed, trip.LimitValue);
        var recorder = _configuredRecorder ?? InnerClient.GetService<AttemptRecorder>() ?? ServicesRecorder;
        if (recorder is not null)
        {
            var routed = RoutedModel(options);
            var record = new LedgerRecord
            {
                Id = LedgerIds.New(now),
                Timestamp = now,
                RequestId = options.GetRequestId() ?? LedgerIds.New(now),
                SessionId = trip.SessionId,
                KeyId = options.GetKeyId(),
                TaskLabel = options.GetTaskLabel(),
                RequestedModel = options.GetRequestedModel() ?? routed,
                RoutedModel = routed,
                Policy = options.GetPolicy() ?? "loop_guard",
                Reason = trip.Message,
                Attempt = options.GetAttempt() ?? 1,
                EscalatedFrom = options.GetEscalatedFrom(),
                Status = LedgerStatus.Error,
                ErrorType = ErrorType,
            };
            try
            {
                await recorder.RecordAsync(record, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                // The trip itself is what matters to the caller; a ledger failure must not hide it.
                LoopGuardLog.RecordFailed(_logger, exception, trip.SessionId);
            }
        }

        throw trip;
    }
}
