using System.Collections.Concurrent;
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
    private readonly ConcurrentDictionary<string, byte> _unpricedSeen = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>How many distinct unpriced models are remembered for <see cref="IsFirstUnpricedSighting"/>; past it, no more warnings.</summary>
    internal const int MaxUnpricedModelsRemembered = 256;

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

    /// <summary>
    /// Records an attempt whose <see cref="LedgerRecord.Cost"/> the caller already set with <see cref="TryCost"/>, as it
    /// is: <see cref="RecordAsync"/> would price it again and copy it. The proxy builds each answered attempt's record
    /// this way, once.
    /// </summary>
    /// <exception cref="ArgumentException">The attempt has no cost: record it with <see cref="RecordAsync"/>, which marks it unpriced.</exception>
    public async ValueTask<LedgerRecord> RecordPricedAsync(LedgerRecord priced, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(priced);
        if (priced.Cost is null)
        {
            throw new ArgumentException($"The attempt '{priced.Id}' has no cost; record it with RecordAsync, which prices it or marks it unpriced.", nameof(priced));
        }

        await _ledger.RecordAsync(priced, cancellationToken).ConfigureAwait(false);
        _metrics?.Record(priced);
        return priced;
    }

    /// <summary>
    /// True the first time an unpriced attempt of <paramref name="model"/> is seen by this recorder, so each door warns
    /// once per model rather than once per call. The set is bounded (<see cref="MaxUnpricedModelsRemembered"/>): model
    /// names come from callers, and a caller sending many made-up names must not grow memory or flood the log.
    /// </summary>
    /// <param name="model">The model that answered (or was routed to) with no price.</param>
    public bool IsFirstUnpricedSighting(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (_unpricedSeen.ContainsKey(model) || _unpricedSeen.Count >= MaxUnpricedModelsRemembered)
        {
            return false;
        }

        return _unpricedSeen.TryAdd(model, 0);
    }

    /// <summary>
    /// The effort an attempt ran at, for <see cref="LedgerRecord.Effort"/>: the level sent, else the model's default
    /// from the catalog (<paramref name="isDefault"/> true); null when neither is known or the model takes no effort.
    /// </summary>
    /// <param name="model">The model the attempt was sent to.</param>
    /// <param name="sent">The <c>output_config.effort</c> sent; unspecified when none.</param>
    /// <param name="isDefault">Whether the result is the model's default.</param>
    public string? EffortOf(string model, Catalog.EffortLevel sent, out bool isDefault)
    {
        isDefault = false;
        if (Catalog.RequestTraitsReader.WireName(sent) is { } name)
        {
            return name;
        }

        if (sent == Catalog.EffortLevel.Unspecified && _prices.TryGetEntry(model, out var entry)
            && Catalog.RequestTraitsReader.WireName(entry.Rules.DefaultEffort) is { } fallback)
        {
            isDefault = true;
            return fallback;
        }

        return null;
    }

    /// <summary>Returns <paramref name="attempt"/> with its cost (or its unpriced status) filled in.</summary>
    public LedgerRecord Price(LedgerRecord attempt)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        return TryCost(attempt.RoutedModel, attempt.ResponseModel, attempt.Usage, attempt.Timestamp, out var cost)
            ? attempt with { Cost = cost }
            : attempt with
            {
                Cost = null,
                Status = attempt.Status == LedgerStatus.Ok ? LedgerStatus.Unpriced : attempt.Status,
                ErrorType = attempt.ErrorType ?? "unpriced_model",
            };
    }

    /// <summary>
    /// The cost <see cref="Price"/> gives an attempt: zero when nothing was consumed, else the usage at the prices of the
    /// model that answered (when the price book knows it), else of the model it was routed to. False when neither has a
    /// price in force at <paramref name="at"/>: the attempt is unpriced.
    /// </summary>
    public bool TryCost(string routedModel, string? responseModel, in TokenUsage usage, DateTimeOffset at, out CostBreakdown cost)
    {
        ArgumentNullException.ThrowIfNull(routedModel);
        if (usage.InputTokens == 0 && usage.OutputTokens == 0 && usage.TotalInputTokens == 0 && !usage.HasServerToolUse)
        {
            // Nothing was consumed (an error answer, a refused connection): nothing is owed, on any model.
            cost = CostBreakdown.Zero;
            return true;
        }

        try
        {
            // A model the book knows but cannot price this usage on (fast mode without a rate, a server tool without a
            // price in force) is unpriced too: never a guess, never an exception out of the recorder.
            cost = responseModel is { } answered && _prices.TryResolveId(answered, out _)
                ? _prices.Cost(answered, usage, at)
                : _prices.Cost(routedModel, usage, at);
            return true;
        }
        catch (PricingException)
        {
            cost = default;
            return false;
        }
    }
}
