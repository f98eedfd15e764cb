using ModelMix.Budgets;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// An alias whose policy pays for a call before it decides (<c>auto-meta</c>: the meta-router's classification). The
/// budget holds the worst case of that call and of the costliest model the decision can name before anything is sent.
/// A key over its budget is then refused before the classifier is paid, and the classification's cost counts against
/// the budget (<see cref="RoutingCallCharger"/>).
/// </summary>
/// <param name="meta">The meta-router that makes the call.</param>
/// <param name="models">Every model the alias's decision can name (pins, the meta-router's tiers, the default).</param>
internal sealed class ProxyRoutingCall(MetaRouterPolicy meta, IReadOnlyList<string> models)
{
    /// <summary>The models the hold prices, for the 400 written when one of them has no price in force.</summary>
    public string Models { get; } = string.Join(", ", models.Append(meta.ClassifierModel).Distinct(StringComparer.Ordinal));

    /// <summary>The classification's worst case plus the costliest answer among the models the decision can name.</summary>
    /// <exception cref="PricingException">One of the models has no price in force at <paramref name="at"/>.</exception>
    public decimal WorstCaseUsd(PriceBook prices, DateTimeOffset at, byte[] body, long maxTokens, RoutingRequest features)
    {
        var answer = 0m;
        foreach (var model in models)
        {
            answer = Math.Max(answer, BudgetEstimator.WorstCaseUsd(prices, model, RequestBodyRewriter.ReplaceModel(body, model), maxTokens, at));
        }

        return meta.ClassificationWorstCaseUsd(prices, features, at) + answer;
    }
}
