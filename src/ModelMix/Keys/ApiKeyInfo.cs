using ModelMix.Budgets;

namespace ModelMix.Keys;

/// <summary>A virtual API key as the store describes it: never the key or its hash.</summary>
public sealed record ApiKeyInfo
{
    /// <summary>The public id (part of the key after <c>mmx-</c>; recorded in the ledger as the key id).</summary>
    public required string Id { get; init; }

    /// <summary>The operator's name for the key, e.g. <c>team-a</c>.</summary>
    public required string Name { get; init; }

    /// <summary>When it was created (UTC).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it was revoked, or null while it is valid.</summary>
    public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>Whether the key may use admin endpoints.</summary>
    public bool IsAdmin { get; init; }

    /// <summary>The key's spending caps (none: unlimited).</summary>
    public IReadOnlyList<BudgetCap> Budgets { get; init; } = [];

    /// <summary>The budget scope of the key's spend: <c>key:ID</c>.</summary>
    public string BudgetScope => "key:" + Id;
}
