using ModelMix.Keys;

namespace ModelMix.Server;

/// <summary>Who made a proxy request: the virtual key it presented, or nobody (open mode: no keys, loopback only).</summary>
/// <param name="Key">The authenticated key, or null in open mode.</param>
internal sealed record AuthCaller(ApiKeyInfo? Key)
{
    /// <summary>The caller of a proxy that has no keys and serves loopback only.</summary>
    public static AuthCaller Anonymous { get; } = new((ApiKeyInfo?)null);

    /// <summary>The key id recorded in the ledger (never the key).</summary>
    public string? KeyId => Key?.Id;
}
