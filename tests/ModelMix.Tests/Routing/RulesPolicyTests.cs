using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Routing;

public sealed class RulesPolicyTests
{
    private static readonly PriceBook s_book = PriceBook.Default;

    private static RoutingRule Rule(Action<RoutingRuleOptions> configure)
    {
        var options = new RoutingRuleOptions { Name = "r", Target = "haiku" };
        configure(options);
        return new RoutingRule(options, s_book);
    }

    [Fact]
    public void First_matching_rule_wins()
    {
        var policy = RulesPolicy.Create(
        [
            new() { Name = "short", MaxInputTokens = 100, Target = "haiku" },
            new() { Name = "short-too", MaxInputTokens = 1000, Target = "opus" },
            new() { Name = "rest", Target = "sonnet" },
        ], s_book);

        Assert.True(policy.TryDecide(Prompts.Request(Prompts.ChitChat), out var decision));
        Assert.Equal("short", policy.FirstMatch(Prompts.Request(Prompts.ChitChat))!.Name);
        Assert.Equal(s_book.ResolveTier("haiku"), decision.Model);
        Assert.Equal("rest", policy.FirstMatch(Prompts.Request(Prompts.ChitChat) with { EstimatedInputTokens = 5000 })!.Name);
    }

    [Fact]
    public void Without_a_catch_all_an_unmatched_request_is_not_decided()
    {
        var policy = RulesPolicy.Create([new() { Name = "images", HasImages = true, Target = "sonnet" }], s_book);

        Assert.False(policy.TryDecide(Prompts.Request(Prompts.ChitChat), out _));
        Assert.True(policy.TryDecide(Prompts.Request(Prompts.ChitChat) with { HasImages = true }, out _));
    }

    [Fact]
    public void Every_condition_must_hold()
    {
        var rule = Rule(o =>
        {
            o.TaskLabels = ["agent-step"];
            o.MinTools = 1;
            o.MaxTools = 5;
            o.MinDepth = 3;
            o.MaxDepth = 40;
            o.MaxMaxTokens = 2048;
            o.HasImages = false;
            o.StructuredOutput = false;
        });
        var ok = Prompts.Request("List the open pull requests.", taskLabel: "agent-step", tools: 3, maxTokens: 1024) with { ConversationDepth = 7 };

        Assert.True(rule.Matches(ok));
        Assert.False(rule.Matches(ok with { TaskLabel = "other" }));
        Assert.False(rule.Matches(ok with { ToolCount = 0 }));
        Assert.False(rule.Matches(ok with { ToolCount = 6 }));
        Assert.False(rule.Matches(ok with { ConversationDepth = 2 }));
        Assert.False(rule.Matches(ok with { ConversationDepth = 41 }));
        Assert.False(rule.Matches(ok with { MaxTokens = 4096 }));
        Assert.False(rule.Matches(ok with { MaxTokens = null }));
        Assert.False(rule.Matches(ok with { HasImages = true }));
        Assert.False(rule.Matches(ok with { StructuredOutput = true }));
    }

    [Theory]
    [InlineData("Please CLASSIFY this.", true)]
    [InlineData("classify: spam or not", true)]
    [InlineData("(classify)", true)]
    [InlineData("reclassify the rows", false)]
    [InlineData("classifying is fun", false)]
    [InlineData("", false)]
    public void Keywords_match_case_insensitively_at_word_boundaries(string text, bool expected)
    {
        var rule = Rule(o => o.Keywords = ["classify", "c++"]);

        Assert.Equal(expected, rule.Matches(Prompts.Request(text)));
    }

    [Theory]
    [InlineData("the classification of birds", true)]
    [InlineData("classifier accuracy", true)]
    [InlineData("declassified files", false)]
    public void Keyword_with_a_star_is_a_prefix(string text, bool expected)
    {
        var rule = Rule(o => o.Keywords = ["classif*"]);

        Assert.Equal(expected, rule.Matches(Prompts.Request(text)));
    }

    [Fact]
    public void Keyword_match_keeps_scanning_past_a_false_hit()
    {
        var rule = Rule(o => o.Keywords = ["tag"]);

        Assert.True(rule.Matches(Prompts.Request("tagline, hashtag, stage… then tag the image")));
        Assert.False(rule.Matches(Prompts.Request("Write C++ code")));
        Assert.True(Rule(o => o.Keywords = ["c++"]).Matches(Prompts.Request("Port this to C++ please")));
    }

    [Fact]
    public void Reason_lists_the_conditions_and_target()
    {
        var rule = Rule(o =>
        {
            o.Name = "extraction-short";
            o.Keywords = ["extract"];
            o.MaxInputTokens = 8000;
            o.StructuredOutput = true;
        });

        Assert.Equal(
            $"rule 'extraction-short': text mentions 'extract', input ≤ 8K tokens, structured output → haiku ({s_book.ResolveTier("haiku")})",
            rule.Reason);
    }

    [Fact]
    public void Rule_targeting_a_model_id_names_the_model()
    {
        var id = s_book.ResolveTier("sonnet");
        var rule = Rule(o => { o.Target = id; o.MinInputTokens = 1; });

        Assert.Equal(id, rule.Model);
        Assert.EndsWith($"→ {id}", rule.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_rule_fails_naming_rule_and_key()
    {
        var ex = Assert.Throws<RoutingConfigurationException>(() => new RoutingRule(
            new RoutingRuleOptions { Name = "too-tight", MinInputTokens = 9000, MaxInputTokens = 8000, Target = "haiku" }, s_book));

        Assert.Contains("rule 'too-tight'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'MinInputTokens' 9000 is greater than 'MaxInputTokens' 8000", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rules_decision_on_a_typical_request_allocates_nothing()
    {
        var policy = DefaultRules.Create(s_book);
        var requests = new[]
        {
            Prompts.Request(Prompts.TicketClassification),
            Prompts.Request(Prompts.InvoiceExtraction, taskLabel: "extraction", structured: true),
            Prompts.Request(Prompts.ArchitectureReview),
            Prompts.Request(Prompts.ChitChat),
        };
        foreach (var r in requests)
        {
            policy.TryDecide(r, out _);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var decided = 0;
        for (var i = 0; i < 1000; i++)
        {
            decided += policy.TryDecide(requests[i % requests.Length], out _) ? 1 : 0;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1000, decided);
    }

    [Fact]
    public async Task Async_path_agrees_with_the_sync_path()
    {
        var policy = DefaultRules.Create(s_book);
        var request = Prompts.Request(Prompts.ArchitectureReview);

        Assert.True(policy.TryDecide(request, out var sync));
        Assert.Equal(sync, await policy.DecideAsync(request));
    }
}
