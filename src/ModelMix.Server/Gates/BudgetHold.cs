using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Pricing;
using SdkMessage = Anthropic.Models.Messages.Message;

namespace ModelMix.Server;

/// <summary>
/// The budget side of one proxy request: the money reserved before dispatch (none when no budget applies), the
/// cost of every attempt recorded since, and the settlement when the request is over (<see cref="DisposeAsync"/>:
/// settle to the recorded cost, or release when nothing was spent). Attempts of one request are charged one after
/// another, never concurrently.
/// </summary>
internal sealed class BudgetHold : IAsyncDisposable
{
    private readonly IBudgetStore? _store;
    private readonly BudgetReservation? _reservation;
    private readonly ILogger? _logger;
    private readonly ISettlingLedger? _ledger;
    private readonly BudgetLeaseHold? _lease;
    private decimal _charged;
    private bool _unpriced;
    private bool _settled;
    private BudgetOverrunTicket? _ticket;
    private decimal _worstCase;
    private long? _maxTokens;

    /// <param name="keyId">The caller's key id.</param>
    /// <param name="store">The budget store holding <paramref name="reservation"/>.</param>
    /// <param name="reservation">The money held, when a budget applies.</param>
    /// <param name="logger">Receives settlement failures.</param>
    /// <param name="ledger">
    /// A ledger over the same database that settles in its batches (docs/ledger.md, "Crash consistency"): the hold is
    /// then settled in the ledger transaction after the request's records, to the cost the ledger holds for it.
    /// </param>
    public BudgetHold(string? keyId, IBudgetStore? store = null, BudgetReservation? reservation = null, ILogger? logger = null, ISettlingLedger? ledger = null)
    {
        KeyId = keyId;
        _store = store;
        _reservation = reservation;
        _logger = logger;
        _ledger = ledger is { CanSettle: true } ? ledger : null;
    }

    /// <summary>
    /// A hold against this process's budget lease (issue 29, <see cref="BudgetLeases"/>): <see cref="Reservation"/> carries
    /// the lease's id, so every attempt's intent — and through it the attempt's record, in the ledger batch that stores
    /// it — is charged to the lease; ending the hold is in memory only.
    /// </summary>
    public BudgetHold(string? keyId, BudgetLeaseHold lease, string requestId, IReadOnlyList<BudgetLimit> limits, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(lease);
        KeyId = keyId;
        _lease = lease;
        _reservation = new BudgetReservation
        {
            Id = lease.LeaseId,
            RequestId = requestId,
            AmountUsd = lease.AmountUsd,
            CreatedAt = at,
            ExpiresAt = at,
            Limits = limits,
        };
    }

    /// <summary>
    /// Ties the hold to its admission (<see cref="BudgetOverruns"/>): an answer dearer than the hold, or with more output
    /// than <paramref name="maxTokens"/>, is reported as it is charged; the ticket completes once the hold is settled.
    /// </summary>
    public BudgetHold Watch(BudgetOverrunTicket ticket, decimal worstCaseUsd, long? maxTokens)
    {
        _ticket = ticket;
        _worstCase = worstCaseUsd;
        _maxTokens = maxTokens;
        return this;
    }

    /// <summary>Whether the money is held against a lease rather than reserved for this request alone.</summary>
    public bool Leased => _lease is not null;

    /// <summary>The caller's key id, for the ledger records of this request.</summary>
    public string? KeyId { get; }

    /// <summary>The reservation, when a budget applies.</summary>
    public BudgetReservation? Reservation => _reservation;

    /// <summary>The recorded cost charged so far.</summary>
    public decimal Charged => _charged;

    /// <summary>Adds the cost of one recorded attempt. An attempt that used tokens but could not be priced charges the whole reservation.</summary>
    public void Charge(LedgerRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Cost is { } cost)
        {
            _charged += cost.Total;
        }
        else if (record.Usage.TotalInputTokens + record.Usage.OutputTokens > 0)
        {
            _unpriced = true;
        }

        if (_ticket is not null && _reservation is not null)
        {
            _ticket.Charged(_worstCase, _reservation.AmountUsd, _charged, _maxTokens is { } max && record.Attempt != LedgerRecord.RoutingCallAttempt && record.Usage.OutputTokens > max);
        }
    }

    /// <summary>
    /// Charges the price of a call ModelMix made through the SDK for this request (the meta-router's classification, the
    /// cascade's ratings). The ledger stage below the SDK client recorded and priced the same call; this prices it the
    /// same way: the answer's model first, else <paramref name="model"/>, at <paramref name="startedAt"/>.
    /// </summary>
    public void ChargeSdkCall(AttemptRecorder recorder, string model, ChatResponse response, DateTimeOffset startedAt)
    {
        ArgumentNullException.ThrowIfNull(recorder);
        ArgumentNullException.ThrowIfNull(response);
        Charge(recorder.Price(new LedgerRecord
        {
            Id = string.Empty,
            Timestamp = startedAt,
            RequestId = string.Empty,
            RequestedModel = model,
            RoutedModel = model,
            ResponseModel = response.ModelId,
            Usage = UsageOf(response),
        }));
    }

    /// <summary>The usage of an SDK answer: its message's, else the abstraction's counts.</summary>
    private static TokenUsage UsageOf(ChatResponse response) =>
        response.RawRepresentation is SdkMessage { Usage: { } usage } ? AnthropicUsage.FromSdk(usage)
        : response.Usage is { } details ? new TokenUsage(details.InputTokenCount ?? 0, details.OutputTokenCount ?? 0)
        : default;

    /// <summary>Settles the reservation to the recorded cost (zero releases it). Never throws: a failure is logged and the reservation left to expire and be reconciled.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await SettleAsync();
        }
        finally
        {
            _ticket?.Complete(); // after the settlement: a scope draining after an overrun waits for it (BudgetOverruns)
        }
    }

    private async ValueTask SettleAsync()
    {
        if (_lease is not null)
        {
            // The records are charged to the lease in the ledger batch that stores them; here the lease only learns what
            // this request cost, so its slice counts it as spent (an unpriced attempt counts the whole hold).
            _lease.Release(_charged + (_unpriced ? _lease.AmountUsd : 0m));
            return;
        }

        if (_settled || _store is null || _reservation is null)
        {
            return;
        }

        _settled = true;
        var actual = _charged + (_unpriced ? _reservation.AmountUsd : 0m);
        try
        {
            if (_ledger is not null)
            {
                // One transaction with the request's records: the budget is charged exactly what the ledger holds.
                await _ledger.SettleAsync(new ReservationSettlement(_reservation.Id, _reservation.RequestId), CancellationToken.None);
            }
            else
            {
                await _store.SettleAsync(_reservation, actual, CancellationToken.None);
            }
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            if (_logger is not null)
            {
                AuthLog.SettleFailed(_logger, exception, _reservation.RequestId);
            }
        }
    }
}
