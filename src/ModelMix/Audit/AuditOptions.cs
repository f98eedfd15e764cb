namespace ModelMix.Audit;

/// <summary>
/// What an audit covers and the bars its flags use. Every bound has a default that suits a first look; the CLI and
/// the dashboard pass their own.
/// </summary>
internal sealed record AuditOptions
{
    /// <summary>Earliest record to include (inclusive); null: from the first record.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Instant to stop before (exclusive); null: through the last record.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>
    /// When routing started. Records before it are the "before routing" period. Null: the timestamp of the first
    /// record whose policy routed it (any policy other than <c>passthrough</c>).
    /// </summary>
    public DateTimeOffset? RoutingStart { get; init; }

    /// <summary>The model of the "all on the top model" bill: a tier or model id; default <c>opus</c>.</summary>
    public string TopModel { get; init; } = "opus";

    /// <summary>
    /// The model of the "all on the model you used before routing" bill. Null: the model with the most calls before
    /// routing started (no such bill when there is no such period).
    /// </summary>
    public string? BaselineModel { get; init; }

    /// <summary>Tier → the largest share of calls (0–1) it should take; past it the audit raises a flag. Default: opus 0.20.</summary>
    public IReadOnlyDictionary<string, decimal> TierCallShareBounds { get; init; } = new Dictionary<string, decimal>(StringComparer.OrdinalIgnoreCase) { ["opus"] = 0.20m };

    /// <summary>A task label whose projected monthly spend is below this many USD is flagged: routing it is not worth its complexity.</summary>
    public decimal LowVolumeMonthlyUsd { get; init; } = 10m;

    /// <summary>A session spending at least this many USD per minute (over its life, at least one minute) is flagged as a possible runaway loop.</summary>
    public decimal RunawayUsdPerMinute { get; init; } = 0.50m;

    /// <summary>Sessions that spent less than this in total are never flagged as runaways (a short burst is not a loop).</summary>
    public decimal RunawayMinSessionUsd { get; init; } = 1m;

    /// <summary>More models to reprice every call on (e.g. recommendation candidates); the tier models are always repriced.</summary>
    public IReadOnlyCollection<string> RepriceModels { get; init; } = [];

    /// <summary>How many of the latest records the report keeps (for the dashboard's recent requests).</summary>
    public int RecentCount { get; init; }

    /// <summary>
    /// Whether the audit reads the ledger's hourly rollups when the store keeps them (both shipped stores do): whole hours
    /// come from rollups, partial hours and the rest from raw rows (docs/ledger.md, "Rollups"). Default true; false reads
    /// every raw row record by record (the same figures, slower).
    /// </summary>
    public bool UseRollups { get; init; } = true;

    /// <summary>
    /// How far back from <see cref="To"/> the per-session statistics, runaway-session flags and each task's p95 latency
    /// cover, its start rounded down to an hour (a day: the last 24 to 25 hours); null: the whole range. Session figures
    /// are summed from the writer's per-session hourly rows, p95 latencies ranked over raw rows; the dashboard uses a day.
    /// </summary>
    public TimeSpan? SessionWindow { get; init; }

    /// <summary>
    /// Whether the report carries each task's p95 first-attempt latency (<see cref="AuditTaskCost.P95LatencyMs"/>, which
    /// the latency recommendations read). Default true; the dashboard, which does not show it, turns it off and saves a
    /// ranking of the window's raw rows per page view.
    /// </summary>
    public bool TaskLatency { get; init; } = true;

    /// <summary>
    /// Keeps what the audit derived from each whole UTC day of its range with the day's version, so a later audit reads a
    /// day that did not change from there instead of from its rows (<see cref="AuditDayCache"/>; the dashboard keeps one
    /// per store). Null (default): every day is read.
    /// </summary>
    public AuditDayCache? DayCache { get; init; }
}
