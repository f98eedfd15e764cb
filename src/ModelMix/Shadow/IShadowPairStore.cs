namespace ModelMix.Shadow;

/// <summary>Durable storage for <see cref="ShadowPair"/> rows (the ledger store's <c>shadow_pairs</c> table).</summary>
public interface IShadowPairStore
{
    /// <summary>Stores <paramref name="pair"/>; a pair id already stored is left unchanged.</summary>
    Task WriteShadowPairAsync(ShadowPair pair, CancellationToken cancellationToken = default);

    /// <summary>Streams the stored pairs, earliest first, optionally from <paramref name="from"/> (inclusive) to <paramref name="to"/> (exclusive).</summary>
    IAsyncEnumerable<ShadowPair> ReadShadowPairsAsync(DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken cancellationToken = default);
}
