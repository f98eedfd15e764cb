using ModelMix.Pricing;

namespace ModelMix.Ledger;

/// <summary>Which stored records to reprice, and whether to write.</summary>
internal sealed record LedgerRepriceOptions
{
    /// <summary>First instant; rounded down to the hour (rollups are recomputed by whole hours).</summary>
    public required DateTimeOffset From { get; init; }

    /// <summary>Instant to stop before; rounded up to the hour.</summary>
    public required DateTimeOffset To { get; init; }

    /// <summary>Only records routed to, or answered by, this model; null: any model.</summary>
    public string? Model { get; init; }

    /// <summary>Only records without a cost (recorded <c>unpriced</c>).</summary>
    public bool UnpricedOnly { get; init; }

    /// <summary>Compute the before/after totals without writing anything.</summary>
    public bool DryRun { get; init; }
}

/// <summary>What a repricing changed (or, dry, would change), over the selected records.</summary>
/// <param name="From">The first whole hour.</param>
/// <param name="To">The hour it stopped before.</param>
/// <param name="Selected">Records the options select.</param>
/// <param name="Repriced">Selected records the price book prices (the others keep their cost, or stay unpriced).</param>
/// <param name="Changed">Repriced records whose total changed (or that had none).</param>
/// <param name="StillUnpriced">Selected records still without a cost.</param>
/// <param name="Before">The selected records' summed cost before (unpriced counts 0).</param>
/// <param name="After">Their summed cost after.</param>
/// <param name="DryRun">Whether nothing was written.</param>
internal sealed record LedgerRepriceResult(
    DateTimeOffset From, DateTimeOffset To, long Selected, long Repriced, long Changed, long StillUnpriced, decimal Before, decimal After, bool DryRun);

/// <summary>
/// Reprices stored records at a price book (a price book change: calls recorded <c>unpriced</c> before their model had
/// a price, or one model's calls in a window), through <see cref="ILedgerRollupStore.RepriceAsync"/>, which updates the
/// raw rows and recomputes the rollups of those hours in one transaction. Each record is priced by the rule the proxy
/// priced it with (<see cref="AttemptRecorder.TryCost"/>) at its own timestamp.
/// </summary>
internal static class LedgerRepricer
{
    /// <summary>Reprices (or, dry, totals what repricing would do).</summary>
    /// <param name="store">The ledger (migrated, with rollups).</param>
    /// <param name="prices">The price book to price at.</param>
    /// <param name="options">Which records.</param>
    /// <param name="cancellationToken">Cancels before the commit.</param>
    /// <exception cref="InvalidOperationException">Raw rows of those hours were pruned.</exception>
    public static async Task<LedgerRepriceResult> RepriceAsync(
        ILedgerStore store, PriceBook prices, LedgerRepriceOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(options);
        var rollups = store as ILedgerRollupStore
            ?? throw new InvalidOperationException($"The ledger store {store.GetType().Name} keeps no rollups and cannot reprice.");
        var from = SqliteLedgerSchema.FromStoredTimestamp(LedgerRollupReader.FloorHour(options.From));
        var to = SqliteLedgerSchema.FromStoredTimestamp(LedgerRollupReader.CeilingHour(options.To));
        var pricer = new AttemptRecorder(prices, NoLedger.Instance);
        long selected = 0, repriced = 0, changed = 0, unpriced = 0;
        decimal before = 0, after = 0;
        CostBreakdown? Price(LedgerRecord record)
        {
            if (options.UnpricedOnly && record.Cost is not null)
            {
                return null;
            }

            if (options.Model is { } model && !string.Equals(record.RoutedModel, model, StringComparison.Ordinal)
                && !string.Equals(record.ResponseModel, model, StringComparison.Ordinal))
            {
                return null;
            }

            selected++;
            before += record.Cost?.Total ?? 0m;
            if (!pricer.TryCost(record.RoutedModel, record.ResponseModel, record.Usage, record.Timestamp, out var cost))
            {
                after += record.Cost?.Total ?? 0m;
                unpriced += record.Cost is null ? 1 : 0;
                return null;
            }

            repriced++;
            changed += record.Cost is { } old && old == cost ? 0 : 1;
            after += cost.Total;
            return cost;
        }

        if (options.DryRun)
        {
            // The same refusal as the real run: hours whose raw rows were pruned cannot be repriced.
            long rolledUp = 0;
            await foreach (var row in rollups.ReadRollupsAsync(from, to, cancellationToken))
            {
                rolledUp += row.Calls;
            }

            if (rolledUp != await store.CountAsync(new LedgerQuery { From = from, To = to }, cancellationToken))
            {
                throw new InvalidOperationException(
                    "Some raw ledger rows of the hours to reprice were pruned (retention): their rollups cannot be recomputed. " +
                    "Reprice only hours still within the raw rows' retention (docs/ledger.md, \"Retention\").");
            }

            await foreach (var record in store.ReadAsync(new LedgerQuery { From = from, To = to }, cancellationToken))
            {
                Price(record);
            }
        }
        else
        {
            await rollups.RepriceAsync(from, to, Price, cancellationToken);
        }

        return new LedgerRepriceResult(from, to, selected, repriced, changed, unpriced, before, after, options.DryRun);
    }

    /// <summary>The recorder is used only to price; it never records.</summary>
    private sealed class NoLedger : ILedger
    {
        public static readonly NoLedger Instance = new();

        public ILedgerStore Store => throw new NotSupportedException();

        public ValueTask RecordAsync(LedgerRecord record, CancellationToken ct = default) => throw new NotSupportedException();

        public Task FlushAsync(CancellationToken ct = default) => throw new NotSupportedException();

        public IAsyncEnumerable<LedgerRecord> ReadAsync(LedgerQuery query, CancellationToken ct = default) => throw new NotSupportedException();

        public Task<LedgerTotals> GetTotalsAsync(LedgerQuery query, CancellationToken ct = default) => throw new NotSupportedException();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
