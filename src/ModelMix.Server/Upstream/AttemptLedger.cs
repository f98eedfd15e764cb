using Microsoft.Extensions.Logging;
using ModelMix.Budgets;
using ModelMix.Catalog;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Server;

/// <summary>
/// The record step: the ledger record of each upstream attempt (answered, failed, stopped for a client that left),
/// its intent before it is sent (ProxyIntents.cs), and what an answered attempt feeds on the way: the budget hold's
/// charge, prompt caching's warm-model tracking and thinking affinity. <see cref="UpstreamSender"/>, <see cref="AnswerRelay"/>
/// and the cascade record through it, so every attempt is written alike whichever path sent it.
/// </summary>
/// <remarks>
/// Its log category stays <c>ModelMix.Server.MessagesForwarder</c> (the one operators filter on before the split).
/// </remarks>
internal sealed class AttemptLedger(AttemptRecorder recorder, ProxyRouter router, TimeProvider time, ILogger<MessagesForwarder> logger, ProxyPromptCaching? caching = null)
{
    /// <summary>The recorder (prices, the ledger's writer).</summary>
    public AttemptRecorder Recorder => recorder;

    /// <summary>The ledger record of one attempt; an answered one passes what the answer said (one record built, not copied with <c>with</c>).</summary>
    public LedgerRecord NewRecord(CallContext call, string? attemptId, int attempt, DateTimeOffset startedAt, long started, int status, string? upstreamRequestId = null, string? responseModel = null, TokenUsage usage = default, CostBreakdown? cost = null, int thinkingDropped = 0) => new()
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
        LatencyMs = (long)time.GetElapsedTime(started).TotalMilliseconds,
        ShadowPairId = call.ShadowPairId,
        Effort = recorder.EffortOf(call.Route.Model, call.Effort, out var effortIsDefault),
        EffortIsDefault = effortIsDefault,
        ClientDisconnected = call.Watch?.ClientGone ?? false,
    };

    /// <summary>The ledger record of an attempt whose answer was (or is being) read elsewhere, to be completed by the caller.</summary>
    public LedgerRecord NewRecord(CallContext call, UpstreamResult result) =>
        NewRecord(call, result.AttemptId, result.Attempt, result.StartedAt, result.StartedTimestamp, result.Status);

    /// <summary>
    /// An attempt's intent (ProxyIntents.cs): what reconciliation needs to write its outcome_unknown record if this
    /// process dies before recording it, with its worst-case usage (<see cref="UsageEstimate.Unanswered(ReadOnlySpan{byte}, long)"/>,
    /// as for a call stopped before it answered); priced only then.
    /// </summary>
    public LedgerIntent Intent(CallContext call, string attemptId, int attempt, DateTimeOffset startedAt)
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
            Effort = recorder.EffortOf(call.Route.Model, call.Effort, out var effortIsDefault),
            EffortIsDefault = effortIsDefault,
            Streaming = call.Request.Stream,
            ShadowPairId = call.ShadowPairId,
            InputTokens = worstCase.InputTokens,
            OutputTokens = worstCase.OutputTokens,
        };
    }

    /// <summary>Records <paramref name="record"/> (priced by the recorder) and charges it to the call's hold.</summary>
    public async ValueTask<LedgerRecord> RecordAsync(CallContext call, LedgerRecord record)
    {
        var recorded = await recorder.RecordAsync(record, CancellationToken.None);
        call.Budget.Charge(recorded);
        return recorded;
    }

    /// <summary>
    /// Records an attempt the proxy stopped because its client left (past the orphan limit, ClientHangups.cs) before
    /// any usage arrived: billed at <see cref="UsageEstimate.Unanswered(ReadOnlySpan{byte}, long)"/>, flagged estimated.
    /// </summary>
    public async Task RecordStoppedAsync(CallContext call, string attemptId, int attempt, DateTimeOffset startedAt, long started, int status, string? upstreamRequestId)
    {
        Log.OrphanStopped(logger, call.RequestId, call.Route.Model, "stopped before the upstream answered");
        await RecordAsync(call, NewRecord(call, attemptId, attempt, startedAt, started, status, upstreamRequestId, usage: UsageEstimate.Unanswered(call.Body, call.Request.MaxTokens)) with
        {
            Status = LedgerStatus.Failed,
            ErrorType = "client_disconnected",
            ClientDisconnected = true,
            UsageEstimated = true,
        });
    }

    /// <summary>Records a failed attempt (no usage: nothing was answered, or an error was).</summary>
    public async Task RecordFailureAsync(CallContext call, string attemptId, int attempt, DateTimeOffset startedAt, long started, int status, string errorType, LedgerStatus outcome, string? upstreamRequestId = null)
    {
        await RecordAsync(call, NewRecord(call, attemptId, attempt, startedAt, started, status) with
        {
            Status = outcome,
            ErrorType = errorType,
            UpstreamRequestId = upstreamRequestId,
        });
    }

    /// <summary>
    /// Records an answered attempt: priced before the record is built, so it is built once (<see cref="AttemptRecorder.RecordAsync"/>
    /// would price and copy it); an unpriced attempt goes through RecordAsync, which marks it so. Then <see cref="ObserveAnsweredAsync"/>.
    /// </summary>
    public async ValueTask<LedgerRecord> RecordAnsweredAsync(CallContext call, string attemptId, int attempt, DateTimeOffset startedAt, long started, int status, string? upstreamRequestId, string? model, TokenUsage usage, int thinkingDropped)
    {
        var priced = recorder.TryCost(call.Route.Model, model, usage, startedAt, out var cost);
        var answered = NewRecord(call, attemptId, attempt, startedAt, started, status, upstreamRequestId, model, usage, priced ? cost : null, thinkingDropped);
        var record = priced
            ? await recorder.RecordPricedAsync(answered, CancellationToken.None)
            : await recorder.RecordAsync(answered, CancellationToken.None);
        await ObserveAnsweredAsync(call, record, model ?? call.Route.Model);
        return record;
    }

    /// <summary>
    /// What a recorded answer (buffered or a relayed stream's) feeds: the hold's charge, prompt caching's warm-model
    /// tracking (ProxyPromptCaching.cs), thinking affinity, and the first-sighting log of an unpriced model.
    /// </summary>
    public async ValueTask ObserveAnsweredAsync(CallContext call, LedgerRecord record, string model)
    {
        call.Budget.Charge(record);
        await (caching?.ObserveAsync(call.Body, record) ?? ValueTask.CompletedTask);
        router.ObserveThinking(record, call.Request.Features.Traits);
        if (record.Status == LedgerStatus.Unpriced && recorder.IsFirstUnpricedSighting(model))
        {
            Log.Unpriced(logger, call.RequestId, model);
        }
    }
}
