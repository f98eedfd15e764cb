using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Routing;

public sealed class CompositePolicyTests
{
    private static readonly PriceBook s_book = PriceBook.Default;

    private static CompositePolicy Chain(params IRoutingPolicy[] tail) =>
        new([new PinnedPolicy(new Dictionary<string, string> { ["classification"] = "opus" }, s_book), DefaultRules.Create(s_book), .. tail]);

    [Fact]
    public void Pin_wins_over_the_rules()
    {
        var chain = Chain();
        var request = Prompts.Request(Prompts.TicketClassification, taskLabel: "classification");

        Assert.True(chain.TryDecide(request, out var decision));

        Assert.Equal(s_book.ResolveTier("opus"), decision.Model);
        Assert.Equal("pinned", decision.Policy);
        Assert.StartsWith("pin 'classification'", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Rules_decide_when_no_pin_applies_and_the_decision_names_them()
    {
        Assert.True(Chain().TryDecide(Prompts.Request(Prompts.TicketClassification), out var decision));

        Assert.Equal(s_book.ResolveTier("haiku"), decision.Model);
        Assert.Equal("rules", decision.Policy);
        Assert.StartsWith("rule 'haiku-keywords'", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Default_decides_when_nothing_earlier_is_decisive()
    {
        var chain = new CompositePolicy(
            RulesPolicy.Create([new() { Name = "images", HasImages = true, Target = "opus" }], s_book),
            new DefaultPolicy("haiku", s_book));

        Assert.True(chain.TryDecide(Prompts.Request(Prompts.ChitChat), out var decision));

        Assert.Equal("default", decision.Policy);
        Assert.Equal(s_book.ResolveTier("haiku"), decision.Model);
        Assert.Equal($"default: no earlier policy was decisive → haiku ({decision.Model})", decision.Reason);
        Assert.Equal(DefaultPolicy.DefaultConfidence, decision.Confidence);
    }

    [Fact]
    public async Task Asynchronous_member_is_awaited_in_order()
    {
        var meta = new ScriptedPolicy("meta", s_book.ResolveTier("opus"), yields: true);
        var chain = new CompositePolicy(
            new PinnedPolicy(new Dictionary<string, string> { ["autocomplete"] = "haiku" }, s_book),
            meta,
            new DefaultPolicy("sonnet", s_book));

        var pinned = await chain.DecideAsync(Prompts.Request("def f(x):", taskLabel: "autocomplete"));
        var fromMeta = await chain.DecideAsync(Prompts.Request(Prompts.ChitChat));

        Assert.Equal("pinned", pinned!.Value.Policy);
        Assert.Equal(1, meta.Calls);
        Assert.Equal("meta", fromMeta!.Value.Policy);
        Assert.False(chain.IsSynchronous);
        Assert.Throws<InvalidOperationException>(() => chain.TryDecide(Prompts.Request(Prompts.ChitChat), out _));
    }

    [Fact]
    public async Task Undecided_asynchronous_member_passes_to_the_next()
    {
        var chain = new CompositePolicy(new ScriptedPolicy("meta", model: null, yields: true), new DefaultPolicy("sonnet", s_book));

        var decision = await chain.DecideAsync(Prompts.Request(Prompts.ChitChat));

        Assert.Equal("default", decision!.Value.Policy);
    }

    [Fact]
    public async Task Sync_and_async_paths_agree_and_repeat_exactly()
    {
        var chain = Chain(new DefaultPolicy("sonnet", s_book));
        Assert.True(chain.IsSynchronous);
        foreach (var text in new[] { Prompts.TicketClassification, Prompts.InvoiceExtraction, Prompts.ArchitectureReview, Prompts.ChitChat, Prompts.StepByStep })
        {
            var request = Prompts.Request(text);
            Assert.True(chain.TryDecide(request, out var first));
            Assert.True(chain.TryDecide(request, out var second));
            Assert.Equal(first, second);
            Assert.Equal(first, await chain.DecideAsync(request));
        }
    }

    [Fact]
    public void Composite_decision_allocates_nothing()
    {
        var chain = Chain(new DefaultPolicy("sonnet", s_book));
        var request = Prompts.Request(Prompts.InvoiceExtraction, structured: true);
        var completed = 0;
        for (var round = 0; round < 2; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1000; i++)
            {
                chain.TryDecide(request, out _);
                var pending = chain.DecideAsync(request);
                completed += pending.IsCompletedSuccessfully ? 1 : 0;
            }

            if (round == 1)
            {
                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        }

        Assert.Equal(2000, completed);
    }

    [Fact]
    public async Task Cancellation_is_honoured()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await Chain().DecideAsync(default, cts.Token));
    }

    private sealed class ScriptedPolicy(string name, string? model, bool yields) : IRoutingPolicy
    {
        public int Calls { get; private set; }

        public string Name => name;

        public async ValueTask<RoutingDecision?> DecideAsync(RoutingRequest request, CancellationToken cancellationToken = default)
        {
            Calls++;
            if (yields)
            {
                await Task.Yield();
            }

            return model is null ? null : new RoutingDecision(model, $"{name}: scripted", 0.6, name);
        }
    }
}
