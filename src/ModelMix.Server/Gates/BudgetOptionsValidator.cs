using Microsoft.Extensions.Options;

namespace ModelMix.Server;

/// <summary>Checks the budget settings of <see cref="ProxyOptions"/> at start-up, naming the key that is wrong.</summary>
internal sealed class BudgetOptionsValidator : IValidateOptions<ProxyOptions>
{
    public ValidateOptionsResult Validate(string? name, ProxyOptions options)
    {
        var failures = new List<string>();
        if (options.SessionBudgetUsd is { } session && (session <= 0m || session > Budgets.BudgetMoney.MaxUsd))
        {
            failures.Add($"{ProxyOptions.SectionName}:SessionBudgetUsd must be a positive amount in USD, got {session}.");
        }

        if (options.ReservationTtl < TimeSpan.FromSeconds(1))
        {
            failures.Add($"{ProxyOptions.SectionName}:ReservationTtl must be at least one second, got {options.ReservationTtl}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
