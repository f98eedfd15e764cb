using BenchmarkDotNet.Attributes;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Benchmarks;

/// <summary>
/// Decision latency of the static policies on a typical request (goal: under 1 µs and 0 bytes per decision).
/// </summary>
[MemoryDiagnoser]
public class RoutingBenchmarks
{
    private const string Ticket = """
        You are a support triage assistant. Classify the customer ticket below into exactly one category:
        billing, bug, feature_request, account_access, other. Answer with the category only.

        Ticket #48213
        Subject: Charged twice for March
        Body: Hi, I upgraded to the Team plan on March 3rd and my card statement shows two charges of $49.00 on the
        same day. I only have one workspace. Can you refund the duplicate? Thanks, Priya
        """;

    private const string ChitChat = "Hey! Long week. Any ideas for a relaxed Saturday in Lisbon if it rains? Something with good coffee.";

    private PinnedPolicy _pinned = null!;
    private RulesPolicy _rules = null!;
    private CompositePolicy _composite = null!;
    private RoutingRequest _pinnedRequest;
    private RoutingRequest _ticket;
    private RoutingRequest _chitChat;

    /// <summary>Builds the policies and requests once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var book = PriceBook.Default;
        _pinned = new PinnedPolicy(new Dictionary<string, string> { ["fraud-check"] = "opus", ["autocomplete"] = "haiku" }, book);
        _rules = DefaultRules.Create(book);
        _composite = new CompositePolicy(_pinned, _rules, new DefaultPolicy("sonnet", book));
        _pinnedRequest = RoutingRequest.ForPrompt(Ticket, "fraud-check") with { MaxTokens = 1024 };
        _ticket = RoutingRequest.ForPrompt(Ticket) with { MaxTokens = 256 };
        _chitChat = RoutingRequest.ForPrompt(ChitChat) with { MaxTokens = 1024, ConversationDepth = 5 };
    }

    /// <summary>A pinned task label: one dictionary lookup.</summary>
    [Benchmark(Baseline = true)]
    public string Pinned() => _pinned.TryDecide(_pinnedRequest, out var d) ? d.Model : string.Empty;

    /// <summary>Default rules on a ticket classification (label rules miss, keyword scans, haiku-keywords hits).</summary>
    [Benchmark]
    public string RulesTicket() => _rules.TryDecide(_ticket, out var d) ? d.Model : string.Empty;

    /// <summary>Default rules on chit-chat: every rule is tried, both keyword scans run, the catch-all decides.</summary>
    [Benchmark]
    public string RulesChitChat() => _rules.TryDecide(_chitChat, out var d) ? d.Model : string.Empty;

    /// <summary>The chain pin → default rules → default on the ticket, through the synchronous path.</summary>
    [Benchmark]
    public string Composite() => _composite.TryDecide(_ticket, out var d) ? d.Model : string.Empty;

    /// <summary>The same chain through <see cref="IRoutingPolicy.DecideAsync"/> (completes synchronously).</summary>
    [Benchmark]
    public string CompositeAsync()
    {
        var pending = _composite.DecideAsync(_ticket);
        return pending.IsCompletedSuccessfully && pending.Result is { } d ? d.Model : string.Empty;
    }
}
