namespace ModelMix.Audit;

/// <summary>One prompt answered by several models, with a quality score per model (0–1, higher is better).</summary>
/// <param name="TaskLabel">The task label the prompt belongs to (the routing dataset's <c>task</c>).</param>
/// <param name="Quality">Model id → quality of its answer.</param>
internal sealed record EvidenceSample(string TaskLabel, IReadOnlyDictionary<string, double> Quality);
