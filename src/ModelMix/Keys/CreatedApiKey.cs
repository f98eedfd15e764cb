namespace ModelMix.Keys;

/// <summary>A key just created: the only time its full value exists outside the client that holds it.</summary>
/// <param name="Info">The stored description.</param>
/// <param name="Key">The key itself (<c>mmx-…</c>); show it once, it cannot be recovered.</param>
public sealed record CreatedApiKey(ApiKeyInfo Info, string Key);
