using ModelMix.Budgets;

namespace ModelMix.Keys;

/// <summary>
/// Virtual API keys: created once (the key shown only then), stored as a per-key salt and a hash of the secret,
/// listed, revoked, and checked on every proxy request. <c>SqliteKeyStore</c> is the embedded store,
/// <c>PostgresKeyStore</c> the one several proxy replicas share.
/// </summary>
public interface IKeyStore : IAsyncDisposable
{
    /// <summary>Where the keys are kept, for messages: a file path, or a database address without its password.</summary>
    string Location { get; }

    /// <summary>Creates or upgrades the key tables (also done on first use).</summary>
    Task MigrateAsync(CancellationToken cancellationToken = default);

    /// <summary>Creates a key; the returned <see cref="CreatedApiKey.Key"/> is the only copy of it.</summary>
    /// <exception cref="ApiKeyException">The name is invalid or already used by a key that is not revoked.</exception>
    Task<CreatedApiKey> CreateAsync(string name, IReadOnlyList<BudgetCap>? budgets = null, bool isAdmin = false, CancellationToken cancellationToken = default);

    /// <summary>Every key, oldest first (revoked ones included when asked).</summary>
    Task<IReadOnlyList<ApiKeyInfo>> ListAsync(bool includeRevoked = true, CancellationToken cancellationToken = default);

    /// <summary>The key with this id, or else the key not revoked with this name; null when none.</summary>
    Task<ApiKeyInfo?> FindAsync(string nameOrId, CancellationToken cancellationToken = default);

    /// <summary>Revokes the key with this id, or else the key not revoked with this name; it stops working at once.</summary>
    /// <exception cref="ApiKeyException">No such key, or it is already revoked.</exception>
    Task<ApiKeyInfo> RevokeAsync(string nameOrId, CancellationToken cancellationToken = default);

    /// <summary>Whether any key that is not revoked exists (then every proxy request must present one).</summary>
    Task<bool> HasActiveKeysAsync(CancellationToken cancellationToken = default);

    /// <summary>The key a client presented, when it is a valid key that is not revoked; null otherwise.</summary>
    Task<ApiKeyInfo?> AuthenticateAsync(string? presented, CancellationToken cancellationToken = default);
}
