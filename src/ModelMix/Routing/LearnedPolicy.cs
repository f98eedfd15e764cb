using System.Globalization;
using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>
/// Routes with a <see cref="LearnedRouter"/>: scores the request text and task label, then sends it to the cheap,
/// middle or top tier by the router's calibrated thresholds. The router's tiers (dataset models) are mapped to the
/// deployment's own models or tiers. Synchronous and allocation-free per decision; always decisive.
/// </summary>
public sealed class LearnedPolicy : ISynchronousRoutingPolicy
{
    /// <summary>The name a learned policy has unless given another.</summary>
    public const string DefaultName = "learned";

    private readonly LearnedRouter _router;
    private readonly string[] _models;
    private readonly string[] _reasons;

    /// <summary>Creates the policy.</summary>
    /// <param name="router">The trained (and calibrated) router.</param>
    /// <param name="priceBook">Resolves the tier targets.</param>
    /// <param name="cheap">The model or tier for the cheap tier (e.g. <c>haiku</c>).</param>
    /// <param name="mid">The model or tier for the middle tier (e.g. <c>sonnet</c>).</param>
    /// <param name="top">The model or tier for the top tier (e.g. <c>opus</c>).</param>
    /// <param name="name">The policy name recorded in decisions.</param>
    /// <exception cref="RoutingConfigurationException">A target is not in the price book.</exception>
    public LearnedPolicy(LearnedRouter router, PriceBook priceBook, string cheap = "haiku", string mid = "sonnet", string top = "opus", string name = DefaultName)
    {
        ArgumentNullException.ThrowIfNull(router);
        ArgumentNullException.ThrowIfNull(priceBook);
        _router = router;
        Name = name;
        _models = [Resolve(priceBook, cheap), Resolve(priceBook, mid), Resolve(priceBook, top)];
        _reasons =
        [
            string.Create(CultureInfo.InvariantCulture, $"learned router: P(cheap matches top) ≥ {router.CheapThreshold:0.###} → {_models[0]}"),
            string.Create(CultureInfo.InvariantCulture, $"learned router: P(mid matches top) ≥ {router.MidThreshold:0.###} → {_models[1]}"),
            $"learned router: neither cheaper tier is likely to match → {_models[2]}",
        ];
    }

    /// <summary>The policy name recorded in decisions.</summary>
    public string Name { get; }

    /// <inheritdoc />
    public bool TryDecide(in RoutingRequest request, out RoutingDecision decision)
    {
        var score = _router.Score(request.Text.Span, request.TaskLabel);
        var tier = (int)_router.Choose(score);
        var confidence = tier switch { 0 => score.CheapOk, 1 => score.MidOk, _ => 1 - score.CheapOk };
        decision = new RoutingDecision(_models[tier], _reasons[tier], confidence, Name);
        return true;
    }

    /// <inheritdoc />
    public ValueTask<RoutingDecision?> DecideAsync(RoutingRequest request, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        TryDecide(request, out var decision);
        return new(decision);
    }

    private static string Resolve(PriceBook book, string target)
    {
        try
        {
            return book.ResolveTier(target);
        }
        catch (Exception ex) when (ex is PricingException or ArgumentException or KeyNotFoundException)
        {
            throw new RoutingConfigurationException($"learned policy: '{target}' is not a tier or model in the price book: {ex.Message}", ex);
        }
    }
}
