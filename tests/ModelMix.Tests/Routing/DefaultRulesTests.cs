using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Routing;

public sealed class DefaultRulesTests
{
    private static readonly PriceBook s_book = PriceBook.Default;
    private static readonly RulesPolicy s_rules = DefaultRules.Create(s_book);
    private static readonly string s_haiku = s_book.ResolveTier("haiku");
    private static readonly string s_sonnet = s_book.ResolveTier("sonnet");
    private static readonly string s_opus = s_book.ResolveTier("opus");

    private static RoutingRule Rule(string name) =>
        new(DefaultRules.CreateOptions().Single(r => r.Name == name), s_book);

    private static RoutingDecision Decide(in RoutingRequest request)
    {
        Assert.True(s_rules.TryDecide(request, out var decision));
        return decision;
    }

    [Fact]
    public void The_fable_tier_is_never_chosen_by_the_default_rules_the_default_model_or_the_cascade()
    {
        // Issue 19: `fable` is a tier for pins, rules and aliases that name it; nothing routes there by default.
        var fable = s_book.ResolveTier("fable");
        Assert.StartsWith("claude-fable-", fable, StringComparison.Ordinal);
        foreach (var rule in DefaultRules.CreateOptions())
        {
            Assert.NotNull(rule.Target);
            Assert.NotEqual(fable, s_book.ResolveTier(rule.Target!));
        }

        Assert.NotEqual(fable, s_book.ResolveTier(new RoutingOptions().Default));
        Assert.DoesNotContain(fable, new ModelMix.Pipeline.CascadeOptions().Tiers.Select(s_book.ResolveTier));
    }

    [Fact]
    public void Ticket_classification_goes_to_haiku_by_keyword()
    {
        var decision = Decide(Prompts.Request(Prompts.TicketClassification));

        Assert.Equal(s_haiku, decision.Model);
        Assert.StartsWith($"rule '{DefaultRules.HaikuKeywords}'", decision.Reason, StringComparison.Ordinal);
        Assert.Equal("rules", decision.Policy);
    }

    [Fact]
    public void Ticket_classification_with_its_label_goes_to_haiku_and_names_the_label()
    {
        var decision = Decide(Prompts.Request(Prompts.TicketClassification, taskLabel: "Classification"));

        Assert.Equal(s_haiku, decision.Model);
        Assert.Equal(
            $"rule '{DefaultRules.HaikuTaskLabel}': task label 'classification', input ≤ 8K tokens → haiku ({s_haiku})",
            decision.Reason);
        Assert.Equal(0.85, decision.Confidence);
    }

    [Fact]
    public void Json_extraction_with_a_schema_goes_to_haiku_as_short_structured_output()
    {
        var decision = Decide(Prompts.Request(Prompts.InvoiceExtraction, structured: true));

        Assert.Equal(s_haiku, decision.Model);
        Assert.StartsWith($"rule '{DefaultRules.HaikuStructuredShort}'", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Long_document_summary_of_30K_tokens_goes_to_sonnet_for_long_context()
    {
        var text = Prompts.LongDocumentSummary();
        var request = Prompts.Request(text, maxTokens: 2048);
        Assert.InRange(request.EstimatedInputTokens, 29_000, 32_000);

        var decision = Decide(request);

        Assert.Equal(s_sonnet, decision.Model);
        Assert.StartsWith($"rule '{DefaultRules.SonnetLongContext}'", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Long_extraction_is_not_sent_to_haiku_even_with_its_label()
    {
        var text = Prompts.LongDocumentSummary();
        var decision = Decide(Prompts.Request(text, taskLabel: "extraction", structured: true));

        Assert.Equal(s_sonnet, decision.Model);
        Assert.StartsWith($"rule '{DefaultRules.SonnetLongContext}'", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Architecture_review_goes_to_opus()
    {
        var decision = Decide(Prompts.Request(Prompts.ArchitectureReview, maxTokens: 8000));

        Assert.Equal(s_opus, decision.Model);
        Assert.StartsWith($"rule '{DefaultRules.OpusKeywords}'", decision.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("security-review")]
    [InlineData("Orchestration")]
    [InlineData("long-horizon-planning")]
    public void Opus_task_labels_go_to_opus_whatever_the_text(string label)
    {
        var decision = Decide(Prompts.Request(Prompts.ChitChat, taskLabel: label));

        Assert.Equal(s_opus, decision.Model);
        Assert.Contains($"task label '{label.ToLowerInvariant()}'", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Chit_chat_falls_through_to_sonnet()
    {
        var decision = Decide(Prompts.Request(Prompts.ChitChat));

        Assert.Equal(s_sonnet, decision.Model);
        Assert.Equal($"rule '{DefaultRules.Otherwise}': no earlier rule matched → sonnet ({s_sonnet})", decision.Reason);
        Assert.Equal(0.5, decision.Confidence);
    }

    [Fact]
    public void Multi_step_reasoning_goes_to_sonnet()
    {
        var decision = Decide(Prompts.Request(Prompts.StepByStep));

        Assert.Equal(s_sonnet, decision.Model);
        Assert.StartsWith($"rule '{DefaultRules.SonnetReasoning}'", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Long_summaries_go_to_sonnet_by_label()
    {
        var decision = Decide(Prompts.Request(Prompts.ChitChat, taskLabel: "summarization") with { EstimatedInputTokens = 12_000 });

        Assert.Equal(s_sonnet, decision.Model);
        Assert.StartsWith($"rule '{DefaultRules.SonnetTaskLabel}'", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Short_summaries_go_to_haiku_by_label_as_the_seeds_say()
    {
        var decision = Decide(Prompts.Request(Prompts.ChitChat, taskLabel: "summarization", structured: true));

        Assert.Equal(s_haiku, decision.Model);
        Assert.StartsWith($"rule '{DefaultRules.HaikuTaskLabel}'", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Writing_for_people_goes_to_sonnet_by_label_even_when_short_and_structured()
    {
        var decision = Decide(Prompts.Request(Prompts.ChitChat, taskLabel: "email", structured: true));

        Assert.Equal(s_sonnet, decision.Model);
        Assert.StartsWith($"rule '{DefaultRules.SonnetTaskLabel}'", decision.Reason, StringComparison.Ordinal);
    }

    // The seeds' signals, one by one: each in a realistic newest user turn, and each as (part of) a task label.

    [Theory]
    [InlineData("classify", "Classify this review as positive, negative or mixed: 'Arrived late, works fine.'")]
    [InlineData("extract", "Extract the order number from: 'Hi, order 55-1290 never arrived.'")]
    [InlineData("summarize", "Summarize this message in one line: 'The meeting moved to 3pm, bring the Q3 numbers.'")]
    [InlineData("tag", "Tag this photo caption with places and people: 'Ana and Joe at the Lisbon riverfront.'")]
    [InlineData("route", "Route this ticket to billing, support or sales: 'My invoice shows the wrong VAT number.'")]
    [InlineData("categorize", "Categorize these expenses: coffee 4.50, train 23.00, hotel 180.00.")]
    [InlineData("label", "Label each sentence as question or statement: 'Is it open? It is closed.'")]
    [InlineData("detect", "Detect the language of: 'Onde fica a estação de comboios?'")]
    [InlineData("filter", "Filter out the lines that mention refunds from the list below.\n- refund please\n- hello")]
    [InlineData("score", "Score this answer from 1 to 5 for politeness: 'Do it yourself.'")]
    public void Each_seed_haiku_signal_in_the_newest_user_turn_goes_to_haiku(string signal, string text)
    {
        var rule = Rule(DefaultRules.HaikuKeywords);
        var request = Prompts.Request(text);

        Assert.True(rule.Matches(request), signal);
        var decision = Decide(request);
        Assert.Equal(s_haiku, decision.Model);
        Assert.StartsWith($"rule '{DefaultRules.HaikuKeywords}'", decision.Reason, StringComparison.Ordinal);
        Assert.Contains($"keyword '{signal[..Math.Min(5, signal.Length)]}", rule.Explain(request), StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("classify", "ticket-classify")]
    [InlineData("extract", "extract-invoice-fields")]
    [InlineData("summarize", "summarize")]
    [InlineData("tag", "photo-tag")]
    [InlineData("route", "route")]
    [InlineData("categorize", "categorize-expenses")]
    [InlineData("label", "label")]
    [InlineData("detect", "detect-language")]
    [InlineData("filter", "spam-filter")]
    [InlineData("score", "lead-score")]
    public void Each_seed_haiku_signal_in_the_task_label_goes_to_haiku(string signal, string label)
    {
        var request = Prompts.Request(Prompts.ChitChat, taskLabel: label);

        Assert.True(Rule(DefaultRules.HaikuKeywords).Matches(request), signal);
        Assert.False(Rule(DefaultRules.HaikuKeywords).Matches(request with { TaskLabel = null }));
        var decision = Decide(request);
        Assert.Equal(s_haiku, decision.Model);
        Assert.Contains("found in the task label", Rule(DefaultRules.HaikuKeywords).Explain(request), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("architect", "Help me architect the event pipeline for our payments platform.")]
    [InlineData("design system", "We need to design a system that ingests 2M events a second with exactly-once delivery.")]
    [InlineData("orchestrate", "Orchestrate the migration across the four services and plan the rollback.")]
    [InlineData("refactor entire", "Refactor the entire codebase to use dependency injection.")]
    [InlineData("novel", "Propose a novel approach to deduplicating near-identical invoices.")]
    [InlineData("multi-agent", "Set up a multi-agent workflow where a planner hands tasks to coders.")]
    [InlineData("long-horizon", "Plan this long-horizon task: port the billing system over the next quarter.")]
    [InlineData("security review", "Do a security review of the login handler below.")]
    public void Each_seed_opus_signal_in_the_newest_user_turn_goes_to_opus(string signal, string text)
    {
        var request = Prompts.Request(text);

        Assert.True(Rule(DefaultRules.OpusKeywords).Matches(request), signal);
        var decision = Decide(request);
        Assert.Equal(s_opus, decision.Model);
        Assert.StartsWith($"rule '{DefaultRules.OpusKeywords}'", decision.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("architect", "architect")]
    [InlineData("design system", "design-system")]
    [InlineData("orchestrate", "orchestrate")]
    [InlineData("refactor entire", "refactor-entire")]
    [InlineData("novel", "novel-research")]
    [InlineData("multi-agent", "multi-agent")]
    [InlineData("long-horizon", "long-horizon")]
    [InlineData("security review", "security-review")]
    public void Each_seed_opus_signal_in_the_task_label_goes_to_opus(string signal, string label)
    {
        var request = Prompts.Request(Prompts.ChitChat, taskLabel: label);

        // A compound label carries the signal to the keyword rule; a bare one is an Opus label.
        Assert.True(Rule(DefaultRules.OpusKeywords).Matches(request) || Rule(DefaultRules.OpusTaskLabel).Matches(request), signal);
        Assert.False(Rule(DefaultRules.OpusKeywords).Matches(request with { TaskLabel = null }));
        Assert.Equal(s_opus, Decide(request).Model);
    }

    [Theory]
    [InlineData("Write a catchy tagline for a bakery.")]
    [InlineData("Draw me a labyrinth for a children's puzzle book.")]
    [InlineData("Who was the detective in The Hound of the Baskervilles?")]
    [InlineData("Explain how a home wifi router picks a channel.")]
    [InlineData("What is a good filtration system for a small pond?")]
    [InlineData("Describe the scoreboard at Wimbledon.")]
    [InlineData("Give me a summary of your favourite film.")]
    public void Haiku_signals_match_whole_words_only(string text)
    {
        Assert.False(Rule(DefaultRules.HaikuKeywords).Matches(Prompts.Request(text)));
        Assert.False(Rule(DefaultRules.OpusKeywords).Matches(Prompts.Request(text)));
    }

    [Theory]
    [InlineData("What architecture style is the Sagrada Família?")]
    [InlineData("Is there any novelty in this idea?")]
    [InlineData("Recommend a novel for a long flight.")]
    [InlineData("Write a short bio. Name: Jana. Job: architect. Hobbies: sailing.")]
    [InlineData("Which design systems do big banks use for their web apps?")]
    [InlineData("Refactor this function to remove the duplicate loop.")]
    public void Opus_signals_match_whole_words_and_phrases_only(string text)
    {
        Assert.False(Rule(DefaultRules.OpusKeywords).Matches(Prompts.Request(text)));
    }

    [Fact]
    public void The_default_rules_list_all_the_seed_signals()
    {
        string[] haiku = ["classify", "extract", "summarize", "tag", "route", "categorize", "label", "detect", "filter", "score"];
        string[] opus = ["architect", "design system", "orchestrate", "refactor entire", "novel", "multi-agent", "long-horizon", "security review"];
        var haikuRule = Rule(DefaultRules.HaikuKeywords);
        var opusRule = Rule(DefaultRules.OpusKeywords);

        Assert.All(haiku, signal => Assert.True(haikuRule.Matches(Prompts.Request("please " + signal + " it")), signal));
        string[] opusInContext = ["architect the", "design system", "orchestrate", "refactor entire", "novel approach", "multi-agent", "long-horizon", "security review"];
        Assert.All(opusInContext, signal => Assert.True(opusRule.Matches(Prompts.Request("please " + signal + " it")), signal));
        Assert.All(opus, signal => Assert.Contains(DefaultRules.OpusSignals, k => k.StartsWith(signal, StringComparison.Ordinal)));
    }

    // Each rule alone.

    [Fact]
    public void Rule_opus_task_label_matches_only_its_labels()
    {
        var rule = Rule(DefaultRules.OpusTaskLabel);

        Assert.True(rule.Matches(Prompts.Request("x", taskLabel: "architecture")));
        Assert.False(rule.Matches(Prompts.Request("x", taskLabel: "classification")));
        Assert.False(rule.Matches(Prompts.Request(Prompts.ArchitectureReview)));
        Assert.Equal(s_opus, rule.Model);
    }

    [Fact]
    public void Rule_haiku_task_label_stops_at_8K_tokens()
    {
        var rule = Rule(DefaultRules.HaikuTaskLabel);
        var request = Prompts.Request(Prompts.TicketClassification, taskLabel: "tagging");

        Assert.True(rule.Matches(request with { EstimatedInputTokens = 8_000 }));
        Assert.False(rule.Matches(request with { EstimatedInputTokens = 8_001 }));
        Assert.False(rule.Matches(request with { TaskLabel = null }));
    }

    [Fact]
    public void Rule_sonnet_task_label_matches_reader_labels()
    {
        var rule = Rule(DefaultRules.SonnetTaskLabel);

        Assert.True(rule.Matches(Prompts.Request("Draft a reply", taskLabel: "email")));
        Assert.False(rule.Matches(Prompts.Request("Draft a reply", taskLabel: "extraction")));
    }

    [Fact]
    public void Rule_opus_keywords_matches_architecture_and_security_phrases_only()
    {
        var rule = Rule(DefaultRules.OpusKeywords);

        Assert.True(rule.Matches(Prompts.Request(Prompts.ArchitectureReview)));
        Assert.True(rule.Matches(Prompts.Request("Run a SECURITY REVIEW of this login handler.")));
        Assert.True(rule.Matches(Prompts.Request("Write the orchestrator that fans out to sub-agents.")));
        Assert.False(rule.Matches(Prompts.Request("What architecture style is the Sagrada Família?")));
        Assert.False(rule.Matches(Prompts.Request(Prompts.ChitChat)));
    }

    [Fact]
    public void Rule_haiku_structured_short_needs_structured_output_and_short_context()
    {
        var rule = Rule(DefaultRules.HaikuStructuredShort);
        var request = Prompts.Request(Prompts.InvoiceExtraction, structured: true);

        Assert.True(rule.Matches(request));
        Assert.False(rule.Matches(request with { StructuredOutput = false }));
        Assert.False(rule.Matches(request with { EstimatedInputTokens = 12_000 }));
    }

    [Fact]
    public void Rule_haiku_keywords_needs_no_tools_and_whole_words()
    {
        var rule = Rule(DefaultRules.HaikuKeywords);

        Assert.True(rule.Matches(Prompts.Request("Please categorize these receipts.")));
        Assert.True(rule.Matches(Prompts.Request("Add tags to each photo caption.")));
        Assert.False(rule.Matches(Prompts.Request("Please categorize these receipts.", tools: 3)));
        Assert.False(rule.Matches(Prompts.Request("Write a catchy tagline for a bakery.")));
        Assert.False(rule.Matches(Prompts.Request("Tell me about extraterrestrial life.")));
    }

    [Fact]
    public void Rule_sonnet_long_context_starts_at_20K_tokens()
    {
        var rule = Rule(DefaultRules.SonnetLongContext);
        var request = Prompts.Request(Prompts.ChitChat);

        Assert.True(rule.Matches(request with { EstimatedInputTokens = 20_000 }));
        Assert.False(rule.Matches(request with { EstimatedInputTokens = 19_999 }));
    }

    [Fact]
    public void Rule_sonnet_reasoning_matches_reasoning_phrases()
    {
        var rule = Rule(DefaultRules.SonnetReasoning);

        Assert.True(rule.Matches(Prompts.Request(Prompts.StepByStep)));
        Assert.True(rule.Matches(Prompts.Request("What are the trade-offs between gRPC and REST here?")));
        Assert.False(rule.Matches(Prompts.Request(Prompts.ChitChat)));
    }

    [Fact]
    public void Rule_otherwise_is_a_catch_all_to_sonnet()
    {
        var rule = Rule(DefaultRules.Otherwise);

        Assert.True(rule.IsCatchAll);
        Assert.True(rule.Matches(default));
        Assert.Equal(s_sonnet, rule.Model);
    }

    [Fact]
    public void Default_rules_put_the_catch_all_last_and_resolve_every_target()
    {
        Assert.Equal(DefaultRules.Otherwise, s_rules.Rules[^1].Name);
        Assert.All(s_rules.Rules, r => Assert.Contains(r.Model, new[] { s_haiku, s_sonnet, s_opus }));
        Assert.Single(s_rules.Rules, r => r.IsCatchAll);
    }

    [Fact]
    public void Explain_shows_actual_values_condition_by_condition()
    {
        var rule = Rule(DefaultRules.HaikuTaskLabel);
        var request = Prompts.Request(Prompts.InvoiceExtraction, taskLabel: "extraction") with { EstimatedInputTokens = 1_234 };

        var explanation = rule.Explain(request);

        Assert.Contains("task label 'extraction'", explanation, StringComparison.Ordinal);
        Assert.Contains("~1.2K input tokens ≤ 8K ✓", explanation, StringComparison.Ordinal);
        Assert.StartsWith($"rule '{DefaultRules.HaikuTaskLabel}' matches", explanation, StringComparison.Ordinal);
        Assert.Contains("does not match", rule.Explain(request with { EstimatedInputTokens = 9_000 }), StringComparison.Ordinal);
    }

    [Fact]
    public void Dataset_prompts_route_the_same_way_every_time()
    {
        var requests = SharedData.Read("routerbench-train.jsonl").Take(200)
            .Select(p => RoutingRequest.ForPrompt(p.Prompt, p.Task)).ToList();
        var first = requests.Select(r => Decide(r)).ToList();
        var again = DefaultRules.Create(s_book);

        for (var i = 0; i < requests.Count; i++)
        {
            Assert.True(again.TryDecide(requests[i], out var second));
            Assert.Equal(first[i], second);
        }
    }
}
