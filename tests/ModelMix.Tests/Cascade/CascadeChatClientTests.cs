using Microsoft.Extensions.AI;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;
using ModelMix.Tests.Pipeline;

namespace ModelMix.Tests.Cascade;

public sealed class CascadeChatClientTests
{
    // The default cascade tiers (haiku, sonnet, opus) resolve to the catalog's tier models.
    private const string Haiku = "claude-haiku-5-5";
    private const string Sonnet = "claude-sonnet-5-5";
    private const string Opus = "claude-opus-5-5";

    private readonly TierScriptedClient _inner = new();

    private static string Answer(string text, double confidence) =>
        $"{{\"answer\":\"{text}\",\"confidence\":{confidence.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}";

    private IChatClient Cascade(Action<CascadeOptions>? configure = null) =>
        new ChatClientBuilder(_inner).UseModelMixCascade(configure).Build();

    [Fact]
    public async Task Cascade_keeps_the_cheap_answer_when_confident()
    {
        _inner.Answer(Answer("Paris", 0.9));
        using var chat = Cascade();

        var response = await chat.GetResponseAsync("Capital of France?");

        Assert.Equal("Paris", response.Text);
        var call = Assert.Single(_inner.Calls);
        Assert.Equal(Haiku, call.Options!.ModelId);
        Assert.IsType<ChatResponseFormatJson>(call.Options.ResponseFormat);
        Assert.Equal(ChatRole.System, call.Messages[0].Role);
        Assert.Contains("confidence", call.Messages[0].Text, StringComparison.Ordinal);
        var result = response.GetCascadeResult()!;
        Assert.Equal(0.9, result.Confidence);
        Assert.Equal(0, result.Escalations);
        Assert.Equal("haiku", result.Path);
        Assert.Equal(Haiku, result.FinalModel);
        Assert.Null(result.TotalCost);
        Assert.Equal(0.9, response.AdditionalProperties![CascadeChatClient.ConfidenceKey]);
    }

    [Fact]
    public async Task Cascade_escalates_when_confidence_below_threshold()
    {
        _inner.Answer(Answer("Lyon", 0.42), Answer("Paris", 0.95));
        using var chat = Cascade();

        var response = await chat.GetResponseAsync("Capital of France?", new ChatOptions().WithRequestId("req-1"));

        Assert.Equal("Paris", response.Text);
        Assert.Equal([Haiku, Sonnet], _inner.Calls.Select(c => c.Options!.ModelId));
        var first = _inner.Calls[0].Options;
        var second = _inner.Calls[1].Options;
        Assert.Equal("req-1", first.GetRequestId());
        Assert.Equal("req-1", second.GetRequestId());
        Assert.Equal(1, first.GetAttempt());
        Assert.Equal(2, second.GetAttempt());
        Assert.Null(first.GetEscalatedFrom());
        Assert.Equal(Haiku, second.GetEscalatedFrom());
        Assert.Equal("cascade", second.GetPolicy());
        Assert.Equal("confidence 0.42 < 0.70 on haiku → sonnet", second.GetRoutingReason());
        Assert.Equal("cascade: first answer on haiku (claude-haiku-5-5); escalates below 0.70", first.GetRoutingReason());
        var result = response.GetCascadeResult()!;
        Assert.Equal("haiku → sonnet", result.Path);
        Assert.Equal(1, result.Escalations);
        Assert.Equal([0.42, 0.95], result.Steps.Select(s => s.Confidence!.Value));
    }

    [Fact]
    public async Task Cascade_stops_at_the_top_tier()
    {
        _inner.Answer(Answer("a", 0.1), Answer("b", 0.2), Answer("c", 0.3));
        using var chat = Cascade();

        var response = await chat.GetResponseAsync("Hard question");

        Assert.Equal("c", response.Text);
        Assert.Equal([Haiku, Sonnet, Opus], _inner.Calls.Select(c => c.Options!.ModelId));
        Assert.Equal("haiku → sonnet → opus", response.GetCascadeResult()!.Path);
        Assert.Equal(Sonnet, _inner.Calls[2].Options.GetEscalatedFrom());
        Assert.Equal(0.3, response.GetCascadeResult()!.Confidence);
    }

    [Fact]
    public async Task Cascade_respects_max_escalations()
    {
        _inner.Answer(Answer("a", 0.1), Answer("b", 0.2));
        using var chat = Cascade(o => o.MaxEscalations = 1);

        var response = await chat.GetResponseAsync("Hard question");

        Assert.Equal("b", response.Text);
        Assert.Equal(2, _inner.Calls.Count);
        Assert.Equal(1, response.GetCascadeResult()!.Escalations);
    }

    [Fact]
    public async Task Zero_max_escalations_keeps_the_first_answer()
    {
        _inner.Answer(Answer("a", 0.1));
        using var chat = Cascade(o => o.MaxEscalations = 0);

        Assert.Equal("a", (await chat.GetResponseAsync("q")).Text);
        Assert.Single(_inner.Calls);
    }

    [Fact]
    public async Task A_task_threshold_overrides_the_default()
    {
        _inner.Answer(Answer("x", 0.8), Answer("y", 0.99));
        using var chat = Cascade(o => o.TaskThresholds["legal"] = 0.9);

        var response = await chat.GetResponseAsync("Is this clause enforceable?", new ChatOptions().WithTaskLabel("LEGAL"));

        Assert.Equal("y", response.Text);
        Assert.Equal("confidence 0.80 < 0.90 on haiku → sonnet", _inner.Calls[1].Options.GetRoutingReason());
        Assert.Equal(0.9, response.GetCascadeResult()!.Threshold);
    }

    [Fact]
    public async Task An_answer_exactly_at_the_threshold_stands()
    {
        _inner.Answer(Answer("x", 0.7));
        using var chat = Cascade();

        await chat.GetResponseAsync("q");

        Assert.Single(_inner.Calls);
    }

    [Fact]
    public async Task An_answer_without_a_confidence_escalates_and_says_so()
    {
        _inner.Answer("Plain text, no JSON.", Answer("ok", 0.9));
        using var chat = Cascade();

        var response = await chat.GetResponseAsync("q");

        Assert.Equal("ok", response.Text);
        Assert.Equal("no confidence (counted as 0.00) < 0.70 on haiku → sonnet", _inner.Calls[1].Options.GetRoutingReason());
        Assert.Null(response.GetCascadeResult()!.Steps[0].Confidence);
    }

    [Fact]
    public async Task Verifier_mode_rates_the_answer_with_a_separate_cheap_call()
    {
        _inner.Answer("Lyon", "{\"confidence\":0.3,\"reason\":\"wrong city\"}", "Paris", "{\"confidence\":0.9}");
        using var chat = Cascade(o => o.ConfidenceSource = CascadeConfidenceSource.Verifier);

        var response = await chat.GetResponseAsync("Capital of France?", new ChatOptions().WithRequestId("req-v"));

        Assert.Equal("Paris", response.Text);
        Assert.Equal([Haiku, Haiku, Sonnet, Haiku], _inner.Calls.Select(c => c.Options!.ModelId));
        var answer = _inner.Calls[0];
        Assert.Null(answer.Options!.ResponseFormat);
        Assert.Equal(ChatRole.User, Assert.Single(answer.Messages).Role);
        var verifier = _inner.Calls[1];
        Assert.Contains("Lyon", verifier.Messages[1].Text, StringComparison.Ordinal);
        Assert.Contains("Capital of France?", verifier.Messages[1].Text, StringComparison.Ordinal);
        Assert.Equal(2, verifier.Options.GetAttempt());
        Assert.Equal("req-v", verifier.Options.GetRequestId());
        Assert.StartsWith("verifier on haiku", verifier.Options.GetRoutingReason(), StringComparison.Ordinal);
        Assert.Equal(3, _inner.Calls[2].Options.GetAttempt());
        Assert.Equal("confidence 0.30 < 0.70 on haiku → sonnet", _inner.Calls[2].Options.GetRoutingReason());
        var result = response.GetCascadeResult()!;
        Assert.Equal([CascadeStepKind.Answer, CascadeStepKind.Verification, CascadeStepKind.Answer, CascadeStepKind.Verification], result.Steps.Select(s => s.Kind));
        Assert.Equal([1, 2, 3, 4], result.Steps.Select(s => s.Attempt));
        Assert.Equal(0.3, result.Steps[0].Confidence);
        Assert.Equal(0.9, result.Confidence);
        Assert.Equal("haiku → sonnet", result.Path);
    }

    [Fact]
    public async Task Verifier_mode_does_not_rate_an_answer_that_cannot_escalate()
    {
        _inner.Answer("Lyon", "0.1", "Paris");
        using var chat = Cascade(o =>
        {
            o.ConfidenceSource = CascadeConfidenceSource.Verifier;
            o.MaxEscalations = 1;
        });

        var response = await chat.GetResponseAsync("Capital of France?");

        Assert.Equal("Paris", response.Text);
        Assert.Equal(3, _inner.Calls.Count);
        Assert.Null(response.GetCascadeResult()!.Confidence);
    }

    [Fact]
    public async Task Verifier_mode_can_rate_the_final_answer_too()
    {
        _inner.Answer("Paris", "0.95");
        using var chat = Cascade(o =>
        {
            o.ConfidenceSource = CascadeConfidenceSource.Verifier;
            o.MaxEscalations = 0;
            o.VerifyFinalAnswer = true;
            o.VerifierModel = "sonnet";
        });

        var response = await chat.GetResponseAsync("Capital of France?");

        Assert.Equal(Sonnet, _inner.Calls[1].Options!.ModelId);
        Assert.Equal(0.95, response.GetCascadeResult()!.Confidence);
    }

    [Fact]
    public async Task Structured_mode_uses_the_verifier_when_the_caller_wants_its_own_json()
    {
        _inner.Answer("{\"city\":\"Paris\"}", "{\"confidence\":0.9}");
        using var chat = Cascade();

        var response = await chat.GetResponseAsync("Capital of France as JSON", new ChatOptions { ResponseFormat = ChatResponseFormat.Json });

        Assert.Equal("{\"city\":\"Paris\"}", response.Text);
        Assert.Same(ChatResponseFormat.Json, _inner.Calls[0].Options!.ResponseFormat);
        Assert.Equal(2, _inner.Calls.Count);
    }

    [Fact]
    public async Task The_callers_options_are_not_changed()
    {
        _inner.Answer(Answer("a", 0.1), Answer("b", 0.9));
        using var chat = Cascade();
        var options = new ChatOptions { ModelId = "caller-model", MaxOutputTokens = 50 }.WithTaskLabel("qa");

        await chat.GetResponseAsync("q", options);

        Assert.Equal("caller-model", options.ModelId);
        Assert.Null(options.GetAttempt());
        Assert.Null(options.GetPolicy());
        Assert.Null(options.ResponseFormat);
        Assert.Equal(50, _inner.Calls[1].Options!.MaxOutputTokens);
        Assert.Equal("caller-model", _inner.Calls[1].Options.GetRequestedModel());
        Assert.Equal("qa", _inner.Calls[1].Options.GetTaskLabel());
    }

    [Fact]
    public async Task Attempt_numbers_continue_from_the_callers_attempt()
    {
        _inner.Answer(Answer("a", 0.1), Answer("b", 0.9));
        using var chat = Cascade();

        await chat.GetResponseAsync("q", new ChatOptions().WithAttempt(3));

        Assert.Equal([3, 4], _inner.Calls.Select(c => c.Options.GetAttempt()!.Value));
    }

    [Fact]
    public async Task Total_cost_is_summed_when_a_ledger_stage_is_below()
    {
        _inner.Answer(Answer("a", 0.1), Answer("b", 0.9));
        var ledger = new RecordingLedger();
        var recorder = new AttemptRecorder(PriceBook.Default, ledger);
        using var chat = new ChatClientBuilder(_inner).UseModelMixCascade().UseModelMixLedger(recorder).Build();

        var response = await chat.GetResponseAsync("q");

        var result = response.GetCascadeResult()!;
        // Each tier answered 100 in / 10 out. Haiku 5.5 ($0.10 / $0.50 per MTok): 100 × 0.1 / 1e6 + 10 × 0.5 / 1e6 =
        // 0.00001 + 0.000005 = 0.000015. Sonnet 5.5 ($2 / $10): 0.0002 + 0.0001 = 0.0003. Sum 0.000315.
        Assert.Equal(0.000315m, result.TotalCost);
        Assert.Equal(2, ledger.Records.Count);
        Assert.Equal(ledger.Records.Sum(r => r.Cost!.Value.Total), result.TotalCost);
        Assert.Equal(result.RequestId, Assert.Single(ledger.Records.Select(r => r.RequestId).Distinct()));
    }

    [Fact]
    public async Task A_tool_call_stands_on_the_cheap_tier()
    {
        var inner = new ScriptedChatClient
        {
            Respond = (_, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("c1", "lookup")]))),
        };
        using var chat = new ChatClientBuilder(inner).UseModelMixCascade().Build();

        var response = await chat.GetResponseAsync("q");

        Assert.Equal(Haiku, inner.LastOptions!.ModelId);
        Assert.Equal(0, response.GetCascadeResult()!.Escalations);
    }

    [Fact]
    public async Task A_failed_escalation_propagates()
    {
        _inner.Answer(Answer("a", 0.1));
        _inner.Throw = (2, new HttpRequestException("down"));
        using var chat = Cascade();

        await Assert.ThrowsAsync<HttpRequestException>(() => chat.GetResponseAsync("q"));
        Assert.Equal(2, _inner.Calls.Count);
    }

    [Fact]
    public async Task Streaming_replays_a_cheap_answer_that_stands()
    {
        _inner.Answer(Answer("Paris is the capital", 0.9));
        using var chat = Cascade();

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync("Capital of France?"))
        {
            updates.Add(update);
        }

        var response = updates.ToChatResponse();
        Assert.Equal("Paris is the capital", response.Text);
        Assert.Equal(0.9, response.GetCascadeResult()!.Confidence);
    }

    [Fact]
    public async Task Streaming_streams_the_escalated_answer_unwrapped()
    {
        _inner.Answer(Answer("Lyon", 0.2), "Paris, of course.");
        using var chat = Cascade(o => o.MaxEscalations = 1);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync("Capital of France?"))
        {
            updates.Add(update);
        }

        Assert.True(updates.Count > 3);
        var response = updates.ToChatResponse();
        Assert.Equal("Paris, of course. ", response.Text);
        Assert.Null(_inner.Calls[1].Options!.ResponseFormat);
        Assert.Equal(Haiku, _inner.Calls[1].Options.GetEscalatedFrom());
        var result = response.GetCascadeResult()!;
        Assert.Equal("haiku → sonnet", result.Path);
        Assert.Null(result.Confidence);
    }

    [Fact]
    public async Task First_tier_confidences_feed_the_calibration()
    {
        var calibration = new CascadeCalibration();
        _inner.Answer(Answer("a", 0.3), Answer("b", 0.9), Answer("c", 0.8));
        using var chat = Cascade(o => o.Calibration = calibration);

        await chat.GetResponseAsync("q", new ChatOptions().WithTaskLabel("qa"));
        await chat.GetResponseAsync("q", new ChatOptions().WithTaskLabel("qa"));

        Assert.Equal([0.3, 0.8], calibration.Confidences("qa"));
    }

    [Theory]
    [InlineData(1.5, 2, "Cascade:Threshold")]
    [InlineData(0.7, -1, "Cascade:MaxEscalations")]
    public void Bad_options_fail_at_build_naming_the_key(double threshold, int maxEscalations, string key)
    {
        var exception = Assert.Throws<ArgumentException>(() => Cascade(o =>
        {
            o.Threshold = threshold;
            o.MaxEscalations = maxEscalations;
        }));
        Assert.Contains(key, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_tier_fails_naming_its_index()
    {
        var exception = Assert.Throws<ArgumentException>(() => Cascade(o => o.Tiers = ["haiku", "gpt-9"]));
        Assert.Contains("Cascade:Tiers:1 'gpt-9'", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_validator_reports_per_task_thresholds()
    {
        var options = new CascadeOptions();
        options.TaskThresholds["qa"] = 2;

        var result = new CascadeOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("Cascade:TaskThresholds:qa", result.FailureMessage, StringComparison.Ordinal);
    }
}
