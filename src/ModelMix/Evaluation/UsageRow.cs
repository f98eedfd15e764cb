using ModelMix.Pricing;

namespace ModelMix.Evaluation;

/// <summary>
/// One call's billable usage, from the ledger or a usage export: what the savings calculator reprices.
/// </summary>
/// <param name="Timestamp">When the call was made, when known.</param>
/// <param name="Model">The model that served it.</param>
/// <param name="Usage">Its tokens by class and billing modifiers.</param>
/// <param name="RecordedCost">What it cost as recorded, or <c>null</c> when unknown (an export without costs, an unpriced record).</param>
internal sealed record UsageRow(DateTimeOffset? Timestamp, string Model, TokenUsage Usage, decimal? RecordedCost)
{
    /// <summary>
    /// The effort the call ran at (<c>low</c> … <c>max</c>: the level sent, or the model's default when none was sent, as
    /// the ledger records it); null when unknown or when the model takes no effort. What-if mixes with an effort use it.
    /// </summary>
    public string? Effort { get; init; }

    /// <summary>
    /// Whether the request sent <see cref="Effort"/> (the ledger's records say so; an export's <c>effort</c> column does
    /// not, so its rows are false): a what-if moves such a call only to a model that accepts that effort.
    /// </summary>
    public bool EffortSent { get; init; }
}
