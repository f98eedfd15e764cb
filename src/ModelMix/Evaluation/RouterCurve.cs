namespace ModelMix.Evaluation;

/// <summary>A router's threshold sweep and RouteLLM's metrics over it (see <see cref="RouterMetrics"/>).</summary>
/// <param name="Points">(share of calls to the strong model, mean quality), from share 0 to 1.</param>
/// <param name="Apgr">The average performance gap recovered; null when the two models' qualities are equal.</param>
/// <param name="Cpt50">The smallest share of strong calls that recovers 50% of the gap; null when never.</param>
/// <param name="Cpt80">The smallest share of strong calls that recovers 80% of the gap; null when never.</param>
internal sealed record RouterCurve(IReadOnlyList<(double Share, double Quality)> Points, double? Apgr, double? Cpt50, double? Cpt80);
