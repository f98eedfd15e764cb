using System.Globalization;
using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>
/// Routes with a <see cref="LearnedRouter"/>: scores the request text and task label (the expected quality gap between
/// the top tier and each cheaper one), then sends it to the tier whose expected quality pays for its price at the
/// router's calibrated price of quality. The router's tiers (dataset models) are mapped to the deployment's own models
/// or tiers. Synchronous and allocation-free per decision; always decisive.
/// </summary>
public sealed class LearnedPolicy : ISynchronousRoutingPolicy
{
    /// <summary>The name a learned policy has unless given another.</summary>
    public const string DefaultName = "learned";

    private readonly LearnedRouter _router;
    private readonly string[] _models;
    private readonly Catalog.EffortLevel[] _efforts;
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
        // A target may carry an effort (opus@low): the tier is then that model at that effort.
        var targets = new[] { Resolve(priceBook, cheap), Resolve(priceBook, mid), Resolve(priceBook, top) };
        _models = [.. targets.Select(t => t.Model)];
        _efforts = [.. targets.Select(t => t.Effort)];
        var shown = targets.Select(t => t.Effort == Catalog.EffortLevel.Unspecified ? t.Model : $"{t.Model} at effort {Catalog.RequestTraitsReader.WireName(t.Effort)}").ToArray();
        var price = router.PriceOfQuality.ToString("0.###", CultureInfo.InvariantCulture);
        _reasons =
        [
            $"learned router: the top tier's expected quality gain does not pay for its price (λ {price}) → {shown[0]}",
            $"learned router: the middle tier's expected quality pays for its price, the top's does not (λ {price}) → {shown[1]}",
            $"learned router: the top tier's expected quality gain pays for its price (λ {price}) → {shown[2]}",
        ];
    }

    /// <summary>The policy name recorded in decisions.</summary>
    public string Name { get; }

    /// <inheritdoc />
    public bool TryDecide(in RoutingRequest request, out RoutingDecision decision)
    {
        var score = _router.Score(request.Text.Span, request.TaskLabel);
        var tier = (int)_router.Choose(score);
        // How sure the router is that the chosen tier is right: 1 − the expected gap it accepts, or the gap it pays for.
        var confidence = Math.Clamp(tier switch { 0 => 1 - score.CheapGain, 1 => 1 - score.MidGain, _ => score.CheapGain }, 0, 1);
        decision = new RoutingDecision(_models[tier], _reasons[tier], confidence, Name) { Effort = _efforts[tier] };
        return true;
    }

    /// <inheritdoc />
    public ValueTask<RoutingDecision?> DecideAsync(RoutingRequest request, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        TryDecide(request, out var decision);
        return new(decision);
    }

    private static (string Model, Catalog.EffortLevel Effort) Resolve(PriceBook book, string target)
    {
        ArgumentNullException.ThrowIfNull(target);
        return RoutingValidation.TryResolveTarget(book, target, out var model, out var effort)
            ? (model, effort)
            : throw new RoutingConfigurationException($"learned policy: '{target}' is not a tier or model in the price book {book.SourceName} (optionally with an effort, e.g. opus@low).");
    }
}
