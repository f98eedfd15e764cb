using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Pipeline;

/// <summary>The batch mark (<c>modelmix.batch</c>) set by a routing rule, and the batching stage's continuation token.</summary>
public sealed class BatchMarkTests
{
    private static readonly RoutingOptions NightlyRules = RoutingConfiguration.ParseJson("""
        {"rules": [
          {"name": "nightly", "taskLabels": ["nightly"], "target": "haiku", "batch": true},
          {"name": "rest", "target": "sonnet"}
        ]}
        """, "rules.json");

    private static async Task<ChatOptions> RouteAsync(ChatOptions callerOptions)
    {
        var inner = new ScriptedChatClient("claude-sonnet-4-5");
        using var client = new ModelRoutingChatClient(inner, RoutingConfiguration.CreatePolicy(NightlyRules, PriceBook.Default));
        await client.GetResponseAsync("Summarise the day's tickets.", callerOptions);
        return inner.LastOptions!;
    }

    [Fact]
    public async Task A_rule_with_batch_true_marks_the_calls_it_matches_on_the_per_call_copy_only()
    {
        var caller = new ChatOptions().WithTaskLabel("nightly");

        var sent = await RouteAsync(caller);

        Assert.True(sent.GetBatch());
        Assert.Null(caller.GetBatchPreference());
        Assert.False((await RouteAsync(new ChatOptions().WithTaskLabel("chat"))).GetBatch());
    }

    [Fact]
    public async Task The_callers_opt_out_wins_over_the_rule()
    {
        var sent = await RouteAsync(new ChatOptions().WithTaskLabel("nightly").WithBatch(false));

        Assert.False(sent.GetBatch());
        Assert.False(sent.GetBatchPreference());
    }

    [Fact]
    public void The_batch_preference_tells_unset_from_opted_out()
    {
        Assert.Null(new ChatOptions().GetBatchPreference());
        Assert.False(new ChatOptions().WithBatch(false).GetBatchPreference());
        Assert.True(new ChatOptions().WithBatch(true).GetBatchPreference());
        Assert.Null(new ChatOptions().WithBatch(true).WithBatch(null).GetBatchPreference());
    }

    [Fact]
    public void A_batch_token_survives_its_bytes_and_json_and_other_tokens_are_not_taken_for_one()
    {
        var token = new BatchContinuationToken("mmxjob_0193");

        Assert.Equal("""{"modelmix_batch_job":"mmxjob_0193"}""", Encoding.UTF8.GetString(token.ToBytes().Span));
        Assert.True(BatchContinuationToken.TryParse(ResponseContinuationToken.FromBytes(token.ToBytes()), out var fromBytes));
        Assert.Equal("mmxjob_0193", fromBytes.JobId);

        var asBase = JsonSerializer.Serialize<ResponseContinuationToken>(token, AIJsonUtilities.DefaultOptions);
        Assert.Equal(asBase, JsonSerializer.Serialize(token, AIJsonUtilities.DefaultOptions));
        Assert.Equal("mmxjob_0193", JsonSerializer.Deserialize<BatchContinuationToken>(asBase, AIJsonUtilities.DefaultOptions)!.JobId);

        Assert.False(BatchContinuationToken.TryParse(ResponseContinuationToken.FromBytes("resp_abc"u8.ToArray()), out _));
        Assert.False(BatchContinuationToken.TryParse(ResponseContinuationToken.FromBytes("""{"other":"x"}"""u8.ToArray()), out _));
        Assert.False(BatchContinuationToken.TryParse(null, out _));
        Assert.Throws<ArgumentException>(() => new BatchContinuationToken(""));
    }
}
