using System.Text.RegularExpressions;
using ModelMix.Budgets;

namespace ModelMix.Keys;

/// <summary>The checks every key store makes before creating a key, so the stores refuse the same things in the same words.</summary>
internal static partial class ApiKeyRules
{
    /// <summary>Refuses an invalid name or two budgets for one window; returns the budgets in window order (empty when none).</summary>
    /// <exception cref="ApiKeyException">The name is invalid, or a window has two budgets.</exception>
    public static IReadOnlyList<BudgetCap> Validate(string name, IReadOnlyList<BudgetCap>? budgets)
    {
        if (string.IsNullOrEmpty(name) || !NamePattern().IsMatch(name))
        {
            throw new ApiKeyException($"Key name '{name}' is invalid: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }

        budgets ??= [];
        var duplicate = budgets.GroupBy(cap => cap.Window).FirstOrDefault(group => group.Count() > 1);
        if (duplicate is not null)
        {
            throw new ApiKeyException($"Key '{name}' has two {BudgetPeriods.ToCode(duplicate.Key)} budgets; give at most one per window.");
        }

        // In window order, as every read returns them (InWindowOrder), so a key just created reads the same.
        return InWindowOrder(budgets);
    }

    /// <summary>A key's budgets in window order (day, month, total): how a key is created and how every store reads it.</summary>
    public static IReadOnlyList<BudgetCap> InWindowOrder(IEnumerable<BudgetCap> budgets) => [.. budgets.OrderBy(cap => cap.Window)];

    /// <summary>The refusal of a second active key with the same name.</summary>
    public static ApiKeyException DuplicateName(string name, Exception inner) =>
        new($"A key named '{name}' already exists; revoke it first (modelmix keys revoke {name}) or choose another name.", inner);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NamePattern();
}
