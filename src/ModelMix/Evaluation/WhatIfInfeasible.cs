using ModelMix.Catalog;

namespace ModelMix.Evaluation;

/// <summary>
/// Calls a what-if could not move to <paramref name="Model"/> (<see cref="WhatIfRepricing.Check(Pricing.PriceBook, string, in Pricing.TokenUsage, DateTimeOffset, EffortLevel)"/>), for one reason: they
/// are priced as they were served, on the model that served them.
/// </summary>
/// <param name="Model">The model the what-if moves traffic to (canonical id).</param>
/// <param name="Reason">Why it could not have served them.</param>
/// <param name="Calls">How many calls.</param>
/// <param name="KeptUsd">What those calls (their share of the scenario) cost as served, counted in the scenario's total.</param>
internal sealed record WhatIfInfeasible(string Model, RuleViolation Reason, long Calls, decimal KeptUsd)
{
    /// <summary>A stable code for the reason, e.g. <c>context-window</c>, <c>max-output</c>, <c>inference-geo</c>, <c>retired</c>.</summary>
    public string ReasonCode => Code(Reason);

    /// <summary>The reason as a phrase, e.g. "the prompt is longer than its context window".</summary>
    public string ReasonText => ModelRuleCheck.Describe(Reason);

    /// <summary>The kebab-case code of a rule violation (<c>ContextWindow</c> → <c>context-window</c>).</summary>
    /// <param name="violation">The violation.</param>
    public static string Code(RuleViolation violation)
    {
        var name = violation.ToString();
        var code = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                code.Append('-');
            }

            code.Append(char.ToLowerInvariant(name[i]));
        }

        return code.ToString();
    }
}
