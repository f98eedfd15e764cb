namespace ModelMix.Budgets;

/// <summary>Why a reservation was refused: the first budget it did not fit under, and when that budget resets.</summary>
/// <param name="Limit">The budget that is exhausted.</param>
/// <param name="SpentUsd">Settled spend in the current period.</param>
/// <param name="ReservedUsd">Money held by requests in flight.</param>
/// <param name="RequestedUsd">The worst-case cost this request needed to reserve.</param>
/// <param name="ResetsAt">When the period ends (null for total and session budgets, which never reset).</param>
public sealed record BudgetRefusal(BudgetLimit Limit, decimal SpentUsd, decimal ReservedUsd, decimal RequestedUsd, DateTimeOffset? ResetsAt)
{
    /// <summary>A sentence that names the budget, its cap, what is spent and when it resets.</summary>
    public string Message
    {
        get
        {
            var window = BudgetPeriods.Describe(Limit.Window);
            var text = $"Budget exceeded: the {window} budget of {Limit.Label} is {BudgetMoney.Format(Limit.CapUsd)}; " +
                $"{BudgetMoney.Format(SpentUsd)} is spent";
            if (ReservedUsd > 0m)
            {
                text += $" and {BudgetMoney.Format(ReservedUsd)} is held by requests in flight";
            }

            text += $", and this request may cost up to {BudgetMoney.Format(RequestedUsd)} (its input plus max_tokens of output). ";
            text += ResetsAt is { } reset
                ? $"It resets at {reset.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture)}."
                : "It does not reset; lower max_tokens, or ask an admin to raise the budget.";
            return text;
        }
    }
}
