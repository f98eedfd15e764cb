using BenchmarkDotNet.Attributes;
using ModelMix.Catalog;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Benchmarks;

/// <summary>
/// What the per-model rule check (<see cref="ModelFit"/>) adds to a pinned or rule decision (goal: under 1 µs and
/// 0 bytes): a decision whose model accepts the request, with the request traits a tool-using agent sends.
/// </summary>
[MemoryDiagnoser]
public class ModelFitBenchmarks
{
    private PinnedPolicy _pinned = null!;
    private RulesPolicy _rules = null!;
    private ModelFit _fit = null!;
    private RoutingRequest _pinnedRequest;
    private RoutingRequest _agentTurn;

    /// <summary>Builds the policies, the check and the requests once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var book = PriceBook.Default;
        _pinned = new PinnedPolicy(new Dictionary<string, string> { ["fraud-check"] = "opus" }, book);
        _rules = DefaultRules.Create(book);
        _fit = new ModelFit(book);
        var traits = new RequestTraits { ToolChoice = ToolChoiceMode.Auto, Thinking = ThinkingMode.Adaptive, Effort = EffortLevel.Low, CarriesThinking = true };
        _pinnedRequest = RoutingRequest.ForPrompt("Check this transfer for fraud signals.", "fraud-check") with { MaxTokens = 4096, Traits = traits };
        _agentTurn = RoutingRequest.ForPrompt("Think step by step: why does the nightly export fail?") with { MaxTokens = 8192, ToolCount = 6, Traits = traits };
    }

    /// <summary>The pin alone (baseline).</summary>
    [Benchmark(Baseline = true)]
    public string Pinned() => _pinned.TryDecide(_pinnedRequest, out var d) ? d.Model : string.Empty;

    /// <summary>The pin, then the rule check.</summary>
    [Benchmark]
    public string PinnedAndFit() => _pinned.TryDecide(_pinnedRequest, out var d) ? _fit.Fit(d, _pinnedRequest).Model : string.Empty;

    /// <summary>The default rules alone.</summary>
    [Benchmark]
    public string Rules() => _rules.TryDecide(_agentTurn, out var d) ? d.Model : string.Empty;

    /// <summary>The default rules, then the rule check.</summary>
    [Benchmark]
    public string RulesAndFit() => _rules.TryDecide(_agentTurn, out var d) ? _fit.Fit(d, _agentTurn).Model : string.Empty;

    /// <summary>The check alone on an accepted decision.</summary>
    [Benchmark]
    public RuleViolation CheckOnly() => _fit.Check("claude-opus-5-5", _agentTurn);
}
