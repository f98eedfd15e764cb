using ModelMix.Budgets;

namespace ModelMix.Keys;

/// <summary>
/// A key about to be stored, made the same way by every key store: the name and budgets checked
/// (<see cref="ApiKeyRules.Validate"/>), a new id and secret, a per-key salt and the HMAC of the secret. The secret
/// itself leaves only in <see cref="Created"/>'s <see cref="CreatedApiKey.Key"/>.
/// </summary>
internal sealed class ApiKeyDraft
{
    private readonly string _key;

    private ApiKeyDraft(string name, IReadOnlyList<BudgetCap> budgets, bool isAdmin)
    {
        Name = name;
        Budgets = budgets;
        IsAdmin = isAdmin;
        (Id, var secret, _key) = ApiKeySecret.Generate();
        Salt = ApiKeyHasher.NewSalt();
        Hash = ApiKeyHasher.Hash(Salt, secret);
    }

    /// <summary>The public id (the primary key).</summary>
    public string Id { get; }

    /// <summary>The checked name.</summary>
    public string Name { get; }

    /// <summary>The budgets in window order (empty when none).</summary>
    public IReadOnlyList<BudgetCap> Budgets { get; }

    /// <summary>Whether the key is an admin key.</summary>
    public bool IsAdmin { get; }

    /// <summary>The per-key salt.</summary>
    public byte[] Salt { get; }

    /// <summary>The HMAC-SHA256 of the secret under <see cref="Salt"/>.</summary>
    public byte[] Hash { get; }

    /// <summary>A new key named <paramref name="name"/>.</summary>
    /// <exception cref="ApiKeyException">The name is invalid, or a window has two budgets.</exception>
    public static ApiKeyDraft Create(string name, IReadOnlyList<BudgetCap>? budgets, bool isAdmin) =>
        new(name, ApiKeyRules.Validate(name, budgets), isAdmin);

    /// <summary>What <c>CreateAsync</c> returns once the key is stored, created at <paramref name="at"/>.</summary>
    public CreatedApiKey Created(DateTimeOffset at) =>
        new(new ApiKeyInfo { Id = Id, Name = Name, CreatedAt = at, IsAdmin = IsAdmin, Budgets = Budgets }, _key);
}
