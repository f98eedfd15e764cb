namespace ModelMix.Audit;

/// <summary>
/// Where recommendations get their quality evidence: a routing-dataset file today (shadow exports and evaluations
/// write that format), the proxy's shadow pairs later. Models must be named as the price book names them.
/// </summary>
internal interface IRecommendationEvidence
{
    /// <summary>A human-readable name of the source, for reports.</summary>
    string Name { get; }

    /// <summary>Streams the samples.</summary>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    IAsyncEnumerable<EvidenceSample> ReadAsync(CancellationToken cancellationToken = default);
}
