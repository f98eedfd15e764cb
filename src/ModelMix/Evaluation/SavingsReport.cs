namespace ModelMix.Evaluation;

/// <summary>The savings calculator's answer: what the traffic cost and what it would cost otherwise.</summary>
internal sealed record SavingsReport
{
    /// <summary>Number of calls read.</summary>
    public required long Calls { get; init; }

    /// <summary>Calls whose recorded cost was unknown (they count in the scenarios, repriced, but not in <see cref="RecordedUsd"/>).</summary>
    public required long CallsWithoutRecordedCost { get; init; }

    /// <summary>The date whose prices the scenarios use.</summary>
    public required DateTimeOffset PriceDate { get; init; }

    /// <summary>The earliest and latest call read, when any.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>The latest call read.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>What the traffic cost as recorded, in total.</summary>
    public required decimal RecordedUsd { get; init; }

    /// <summary>Calls per model as used.</summary>
    public required IReadOnlyDictionary<string, long> CallsByModel { get; init; }

    /// <summary>Recorded cost per model as used.</summary>
    public required IReadOnlyDictionary<string, decimal> RecordedByModel { get; init; }

    /// <summary>The scenarios; the first is <c>as-used</c> (the same traffic at the price date), the baseline of the others.</summary>
    public required IReadOnlyList<SavingsScenario> Scenarios { get; init; }

    /// <summary>
    /// What prompt caching saved on the traffic as used, at the price date: the same calls with every cache write and
    /// read priced as plain input, minus their cost as used. Negative when writes (1.25× / 2×) were not read back enough.
    /// </summary>
    public decimal CachingSavedUsd { get; init; }
}
