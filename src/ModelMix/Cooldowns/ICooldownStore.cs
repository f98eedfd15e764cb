namespace ModelMix.Cooldowns;

/// <summary>
/// Which models are cooling down after the upstream said they were overloaded or rate-limited (429, 529), and until
/// when. A proxy with a fallback chain skips a cooling model instead of sending it more traffic; with a shared store
/// (<c>PostgresCooldownStore</c>) one replica's 429 spares every other replica the same wait.
/// </summary>
public interface ICooldownStore : IAsyncDisposable
{
    /// <summary>Creates or upgrades the store's tables (nothing for the in-memory store).</summary>
    Task MigrateAsync(CancellationToken cancellationToken = default);

    /// <summary>Marks <paramref name="model"/> as cooling down until <paramref name="until"/>; an existing later end is kept.</summary>
    Task CoolDownAsync(string model, DateTimeOffset until, CancellationToken cancellationToken = default);

    /// <summary>The models cooling down at <paramref name="at"/>, each with the instant its cooldown ends.</summary>
    Task<IReadOnlyDictionary<string, DateTimeOffset>> GetActiveAsync(DateTimeOffset at, CancellationToken cancellationToken = default);
}
