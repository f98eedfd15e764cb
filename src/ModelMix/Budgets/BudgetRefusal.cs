namespace ModelMix.Budgets;

/// <summary>Why a reservation was refused: the first budget it did not fit under, and when that budget resets.</summary>
/// <param name="Limit">The budget that is exhausted.</param>
/// <param name="SpentUsd">Settled spend in the current period.</param>
/// <param name="ReservedUsd">Money held by requests in flight.</param>
/// <param name="RequestedUsd">The worst-case cost this request needed to reserve.</param>
/// <param name="ResetsAt">When the period ends (null for total and session budgets, which never reset).</param>
public sealed record BudgetRefusal(BudgetLimit Limit, decimal SpentUsd, decimal ReservedUsd, decimal RequestedUsd, DateTimeOffset? ResetsAt)
{
    /// <summary>
    /// How far spent and held money is past the cap: never by reservations (each fits under the cap), only by answers
    /// that cost more than their hold — the overshoot docs/keys-and-budgets.md bounds, reported in <see cref="Message"/>.
    /// </summary>
    public decimal OverCapUsd => Math.Max(0m, SpentUsd + ReservedUsd - Limit.CapUsd);

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
            if (OverCapUsd > 0m)
            {
                // Holds never push spent + held past the cap; only answers that cost more than their hold do (issue 20 item 5).
                text += $"It is over its cap by {BudgetMoney.Format(OverCapUsd)}: answers cost more than their requests' worst case " +
                    "(an upstream that returned more than max_tokens, or input a request did not show). ";
            }

            text += ResetsAt is { } reset
                ? $"It resets at {reset.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture)}."
                : "It does not reset; lower max_tokens, or ask an admin to raise the budget.";
            return text;
        }
    }
}
