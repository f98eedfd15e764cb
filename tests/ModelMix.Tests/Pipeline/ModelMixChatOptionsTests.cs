using System.Text.Json;
using Microsoft.Extensions.AI;
using ModelMix.Ledger;
using ModelMix.Pipeline;

namespace ModelMix.Tests.Pipeline;

public sealed class ModelMixChatOptionsTests
{
    [Fact]
    public void With_helpers_set_what_the_get_helpers_read()
    {
        var options = new ChatOptions()
            .WithTaskLabel("extraction")
            .WithSessionId("s-1")
            .WithKeyId("k-1")
            .WithRequestId("r-1")
            .WithAttempt(2)
            .WithRequestedModel("auto")
            .WithRouting("rules", "short extraction goes to Haiku")
            .WithEscalatedFrom("claude-haiku-4-5")
            .WithBatch(true);

        Assert.Equal("extraction", options.GetTaskLabel());
        Assert.Equal("s-1", options.GetSessionId());
        Assert.Equal("k-1", options.GetKeyId());
        Assert.Equal("r-1", options.GetRequestId());
        Assert.Equal(2, options.GetAttempt());
        Assert.Equal("auto", options.GetRequestedModel());
        Assert.Equal("rules", options.GetPolicy());
        Assert.Equal("short extraction goes to Haiku", options.GetRoutingReason());
        Assert.Equal("claude-haiku-4-5", options.GetEscalatedFrom());
        Assert.True(options.GetBatch());
        Assert.Equal("extraction", options.AdditionalProperties![ModelMixChatOptions.TaskLabelKey]);
    }

    [Fact]
    public void A_null_value_removes_the_key_and_null_options_read_as_absent()
    {
        var options = new ChatOptions().WithTaskLabel("extraction").WithAttempt(3);

        options.SetTaskLabel(null).SetAttempt(null);

        Assert.Empty(options.AdditionalProperties!);
        Assert.Null(((ChatOptions?)null).GetTaskLabel());
        Assert.Null(((ChatOptions?)null).GetAttempt());
        Assert.False(((ChatOptions?)null).GetBatch());
    }

    [Fact]
    public void Values_set_by_other_code_are_read_when_convertible()
    {
        var options = new ChatOptions
        {
            AdditionalProperties = new()
            {
                [ModelMixChatOptions.AttemptKey] = 4L,
                [ModelMixChatOptions.TaskLabelKey] = new object(),
                [ModelMixChatOptions.SessionIdKey] = "",
            },
        };

        Assert.Equal(4, options.GetAttempt());
        Assert.Null(options.GetTaskLabel());
        Assert.Null(options.GetSessionId());
    }

    [Fact]
    public void A_negative_attempt_is_rejected_when_set_and_ignored_when_read()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ChatOptions().WithAttempt(-1));
        var options = new ChatOptions { AdditionalProperties = new() { [ModelMixChatOptions.AttemptKey] = -1 } };
        Assert.Null(options.GetAttempt());
    }

    [Fact]
    public void Attempt_zero_marks_a_routing_call()
    {
        var options = new ChatOptions().WithAttempt(LedgerRecord.RoutingCallAttempt);

        Assert.Equal(0, options.GetAttempt());
    }

    [Fact]
    public void Options_survive_Clone_as_stages_below_see_them()
    {
        var clone = new ChatOptions().WithTaskLabel("extraction").WithRequestId("r-1").Clone();

        Assert.Equal("extraction", clone.GetTaskLabel());
        Assert.Equal("r-1", clone.GetRequestId());
        _ = JsonSerializer.Serialize(clone.AdditionalProperties); // plain values: loggable and serializable
    }

    [Fact]
    public void With_returns_a_copy_and_leaves_shared_options_alone()
    {
        // An app keeps one ChatOptions for many calls and tags each call: the shared instance must not change.
        var shared = new ChatOptions { ModelId = "claude-haiku-4-5", MaxOutputTokens = 100 }.WithTaskLabel("extraction");

        var tagged = shared.WithSessionId("conversation-7").WithAttempt(2).WithRouting("rules", "short").WithEffort(global::ModelMix.Catalog.EffortLevel.Low);

        Assert.NotSame(shared, tagged);
        Assert.Null(shared.GetSessionId());
        Assert.Null(shared.GetAttempt());
        Assert.Null(shared.GetPolicy());
        Assert.Null(shared.Reasoning);
        Assert.Single(shared.AdditionalProperties!);
        Assert.Equal("conversation-7", tagged.GetSessionId());
        Assert.Equal(2, tagged.GetAttempt());
        Assert.Equal("extraction", tagged.GetTaskLabel());
        Assert.Equal("claude-haiku-4-5", tagged.ModelId);
        Assert.Equal(100, tagged.MaxOutputTokens);
        Assert.Equal(global::ModelMix.Catalog.EffortLevel.Low, tagged.GetEffort());
    }

    [Fact]
    public void Set_changes_the_options_it_is_given_and_returns_them()
    {
        var options = new ChatOptions();

        var same = options.SetTaskLabel("extraction").SetRequestId("req-1").SetBatch(true);

        Assert.Same(options, same);
        Assert.Equal("extraction", options.GetTaskLabel());
        Assert.Equal("req-1", options.GetRequestId());
        Assert.True(options.GetBatch());
    }
}
