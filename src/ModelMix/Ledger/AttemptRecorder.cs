using ModelMix.Pricing;
using ModelMix.Telemetry;

namespace ModelMix.Ledger;

/// <summary>
/// Prices one attempt with the price book in force at its timestamp and records it in the ledger: the single place
/// where usage becomes money, shared by the library door and the proxy door.
/// </summary>
public sealed class AttemptRecorder
{
    private readonly PriceBook _prices;
    private readonly ILedger _ledger;
    private readonly ModelMixMetrics? _metrics;

    /// <summary>Creates a recorder over a price book and a ledger.</summary>
    public AttemptRecorder(PriceBook prices, ILedger ledger)
        : this(prices, ledger, null)
    {
    }

    /// <summary>Creates a recorder that also counts every attempt in <paramref name="metrics"/>.</summary>
    public AttemptRecorder(PriceBook prices, ILedger ledger, ModelMixMetrics? metrics)
    {
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(ledger);
        _prices = prices;
        _ledger = ledger;
        _metrics = metrics;
    }

    /// <summary>The price book attempts are priced with.</summary>
    public PriceBook Prices => _prices;

    /// <summary>The ledger attempts are recorded in.</summary>
    public ILedger Ledger => _ledger;

    /// <summary>
    /// Prices <paramref name="attempt"/> (its <see cref="LedgerRecord.Cost"/> is ignored and recomputed) and records
    /// it. The upstream's response model is priced first, the routed model when the response model is unknown; when
    /// neither has a price the record is kept as <see cref="LedgerStatus.Unpriced"/> with no cost — never $0.
    /// </summary>
    /// <returns>The record as stored.</returns>
    public async ValueTask<LedgerRecord> RecordAsync(LedgerRecord attempt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        var priced = Price(attempt);
        await _ledger.RecordAsync(priced, cancellationToken).ConfigureAwait(false);
        _metrics?.Record(priced);
        return priced;
    }

    /// <summary>Returns <paramref name="attempt"/> with its cost (or its unpriced status) filled in.</summary>
    public LedgerRecord Price(LedgerRecord attempt)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        var usage = attempt.Usage;
        if (usage.InputTokens == 0 && usage.OutputTokens == 0 && usage.TotalInputTokens == 0)
        {
            // Nothing was consumed (an error answer, a refused connection): nothing is owed, on any model.
            return attempt with { Cost = CostBreakdown.Zero };
        }

        if (attempt.ResponseModel is { } responseModel && _prices.TryResolveId(responseModel, out _))
        {
            return attempt with { Cost = _prices.Cost(responseModel, usage, attempt.Timestamp) };
        }

        try
        {
            return attempt with { Cost = _prices.Cost(attempt.RoutedModel, usage, attempt.Timestamp) };
        }
        catch (PricingException)
        {
            return attempt with
            {
                Cost = null,
                Status = attempt.Status == LedgerStatus.Ok ? LedgerStatus.Unpriced : attempt.Status,
                ErrorType = attempt.ErrorType ?? "unpriced_model",
            };
        }
    }
}
