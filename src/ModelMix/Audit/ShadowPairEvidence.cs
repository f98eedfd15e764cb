using System.Runtime.CompilerServices;
using ModelMix.Shadow;

namespace ModelMix.Audit;

/// <summary>
/// Evidence from the ledger's shadow pairs (shadow mode): each compared pair is one sample in which the live model
/// scores 1 (the reference) and the shadow candidate scores the pair's agreement — the same reading
/// <c>modelmix export --shadow</c> writes. Pairs that were not compared (failed, skipped) are left out.
/// </summary>
internal sealed class ShadowPairEvidence : IRecommendationEvidence
{
    private readonly IShadowPairStore _store;
    private readonly DateTimeOffset? _from;
    private readonly DateTimeOffset? _to;

    /// <summary>Reads the pairs of <paramref name="store"/> recorded in [<paramref name="from"/>, <paramref name="to"/>).</summary>
    /// <param name="store">The store holding the shadow pairs (the ledger's store).</param>
    /// <param name="from">First instant included; all when null.</param>
    /// <param name="to">First instant excluded; all when null.</param>
    public ShadowPairEvidence(IShadowPairStore store, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _from = from;
        _to = to;
    }

    /// <inheritdoc />
    public string Name => "the ledger's shadow pairs";

    /// <inheritdoc />
    public async IAsyncEnumerable<EvidenceSample> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var pair in _store.ReadShadowPairsAsync(_from, _to, cancellationToken))
        {
            if (pair.Agreement is not { } agreement || string.Equals(pair.LiveModel, pair.ShadowModel, StringComparison.Ordinal))
            {
                continue;
            }

            yield return new EvidenceSample(
                pair.TaskLabel ?? "none",
                new Dictionary<string, double>(StringComparer.Ordinal)
                {
                    [pair.LiveModel] = 1.0,
                    [pair.ShadowModel] = agreement,
                });
        }
    }
}
