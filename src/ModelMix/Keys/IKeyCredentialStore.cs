namespace ModelMix.Keys;

/// <summary>
/// What <see cref="CachedKeyStore"/> needs from a key store besides <see cref="IKeyStore"/>: a key's stored record
/// (to verify secrets in memory) and the store's change version (to learn, with one cheap read, whether any key
/// changed). Internal: the salt and hash never leave the library.
/// </summary>
internal interface IKeyCredentialStore
{
    /// <summary>
    /// A number that grows whenever a key or a key's cap is created, changed or deleted: database triggers on the key
    /// tables bump it, so a change made by another replica, by <c>modelmix keys</c> or by hand in SQL counts too.
    /// </summary>
    /// <exception cref="Stores.StoreUnavailableException">The store cannot be reached.</exception>
    Task<long> GetChangeVersionAsync(CancellationToken cancellationToken);

    /// <summary>The key with this public id as stored (revoked or not, caps included), or null when there is none.</summary>
    /// <exception cref="Stores.StoreUnavailableException">The store cannot be reached.</exception>
    Task<StoredApiKey?> FindStoredAsync(string id, CancellationToken cancellationToken);
}

/// <summary>A key's row: its description, per-key salt and HMAC of the secret (see <see cref="ApiKeyHasher"/>).</summary>
internal sealed record StoredApiKey(ApiKeyInfo Info, byte[] Salt, byte[] Hash);

/// <summary>The one check of a presented secret against a stored key, shared by the stores and the cache.</summary>
internal static class ApiKeyVerification
{
    // Verifying against this when the id is unknown keeps the time of a miss like the time of a wrong secret.
    private static readonly byte[] DummySalt = ApiKeyHasher.NewSalt();
    private static readonly byte[] DummyHash = ApiKeyHasher.Hash(DummySalt, "dummy");

    /// <summary>
    /// The key when <paramref name="secret"/> is its secret (compared in constant time by <see cref="ApiKeyHasher.Verify"/>)
    /// and it is not revoked; null otherwise. An unknown key is hashed against a dummy so it takes as long as a wrong secret.
    /// </summary>
    public static ApiKeyInfo? Check(StoredApiKey? stored, string secret)
    {
        if (stored is null)
        {
            _ = ApiKeyHasher.Verify(DummySalt, DummyHash, secret);
            return null;
        }

        return ApiKeyHasher.Verify(stored.Salt, stored.Hash, secret) && stored.Info.RevokedAt is null ? stored.Info : null;
    }
}
