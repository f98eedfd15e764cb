using BenchmarkDotNet.Attributes;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Benchmarks;

/// <summary>
/// What the learned router adds per request (goal: under 20 µs, 0 bytes): hashing the text's last 2,000 characters
/// into word and character n-grams, the task prior's lookup, and every scorer v2 can average (the linear and words
/// logistic heads for both cheaper tiers over 2^16 weights, and the prior), then the gap-against-price choice. The
/// weights' values do not change the cost, so the router is trained on a few synthetic examples with the default
/// feature settings and all three scorers (the most work a router file can ask for).
/// </summary>
[MemoryDiagnoser]
public class LearnedRoutingBenchmarks
{
    private const string Ticket = """
        You are a support triage assistant. Classify the customer ticket below into exactly one category:
        billing, bug, feature_request, account_access, other. Answer with the category only.

        Ticket #48213
        Subject: Charged twice for March
        Body: Hi, I upgraded to the Team plan on March 3rd and my card statement shows two charges of $49.00 on the
        same day. I only have one workspace. Can you refund the duplicate? Thanks, Priya
        """;

    private LearnedPolicy _policy = null!;
    private LearnedPolicy _linearPrior = null!;
    private RoutingRequest _ticket;
    private RoutingRequest _long;

    /// <summary>Trains the router and builds the requests once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var examples = Enumerable.Range(0, 50).Select(i => LearnedRouterExample.FromOutcomes(Ticket + i, i % 2 == 0 ? "classification" : "b", i % 3 == 0, i % 2 == 0)).ToList();
        var router = LearnedRouterTrainer.Train(examples, new LearnedRouterTiers("cheap", "mid", "top"), new LearnedRouterTrainingOptions
        {
            Epochs = 2,
            Scorers = LearnedScorers.Linear | LearnedScorers.Words | LearnedScorers.TaskPrior,
        });
        _policy = new LearnedPolicy(router, PriceBook.Default);
        var linearPrior = LearnedRouterTrainer.Train(examples, new LearnedRouterTiers("cheap", "mid", "top"), new LearnedRouterTrainingOptions
        {
            Epochs = 2,
            Scorers = LearnedScorers.Linear | LearnedScorers.TaskPrior,
        });
        _linearPrior = new LearnedPolicy(linearPrior, PriceBook.Default);
        _ticket = RoutingRequest.ForPrompt(Ticket, "classification");
        _long = RoutingRequest.ForPrompt(string.Concat(Enumerable.Repeat(Ticket, 20)), "classification"); // 8,380 chars: the 2,000-char tail is read
    }

    /// <summary>A short support ticket (419 characters).</summary>
    [Benchmark(Baseline = true)]
    public RoutingDecision ShortTicket()
    {
        _policy.TryDecide(_ticket, out var decision);
        return decision;
    }

    /// <summary>A long prompt, capped at its last 2,000 characters.</summary>
    [Benchmark]
    public RoutingDecision LongPrompt()
    {
        _policy.TryDecide(_long, out var decision);
        return decision;
    }

    /// <summary>The long prompt through a router with the scorers v2 keeps on RouterBench (linear + task prior: two weights per feature).</summary>
    [Benchmark]
    public RoutingDecision LongPromptLinearPrior()
    {
        _linearPrior.TryDecide(_long, out var decision);
        return decision;
    }
}
