using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using ModelMix.Batching;
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

    private static ModelRoutingChatClient Route(IChatClient inner) =>
        new(inner, RoutingConfiguration.CreatePolicy(NightlyRules, PriceBook.Default));

    [Fact]
    public async Task Without_a_batching_stage_below_a_batch_rule_leaves_the_call_unmarked()
    {
        var inner = new ScriptedChatClient("claude-sonnet-4-5");
        using var client = Route(inner);

        await client.GetResponseAsync("Summarise the day's tickets.", new ChatOptions().WithTaskLabel("nightly"));

        Assert.Equal("claude-haiku-5-5", inner.LastOptions!.ModelId); // "target": "haiku" → the default catalog's haiku tier
        Assert.Null(inner.LastOptions.GetBatchPreference()); // served at once: prompt caching keeps its synchronous TTL
    }

    [Fact]
    public async Task With_a_batching_stage_below_a_batch_rule_queues_the_calls_it_matches_unless_the_caller_opts_out()
    {
        var path = Path.Combine(Path.GetTempPath(), "modelmix-ut-" + Guid.NewGuid().ToString("N") + ".db");
        try
        {
            await using var store = new SqliteBatchStore(path);
            var served = 0;
            var inner = new ScriptedChatClient("claude-sonnet-4-5")
            {
                Respond = (_, _) =>
                {
                    served++;
                    return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));
                },
            };
            using var client = Route(new BatchingChatClient(inner, new BatchingChatClientOptions { Store = store }));
            var caller = new ChatOptions { AllowBackgroundResponses = true }.WithTaskLabel("nightly");

            var nightly = await client.GetResponseAsync("Summarise the day's tickets.", caller);
            var chat = await client.GetResponseAsync("Hi", new ChatOptions { AllowBackgroundResponses = true }.WithTaskLabel("chat"));
            var optedOut = await client.GetResponseAsync("Now, please.", new ChatOptions { AllowBackgroundResponses = true }.WithTaskLabel("nightly").WithBatch(false));

            var token = Assert.IsType<BatchContinuationToken>(nightly.ContinuationToken);
            Assert.Null(caller.GetBatchPreference()); // the mark went on the per-call copy
            var item = Assert.Single(await store.GetItemsAsync(token.JobId));
            Assert.Equal("claude-haiku-5-5", item.RoutedModel); // "target": "haiku" → the default catalog's haiku tier
            Assert.Equal("rules", item.Policy);
            Assert.Null(chat.ContinuationToken);
            Assert.Null(optedOut.ContinuationToken);
            Assert.Equal(2, served); // chat and the opted-out call went through at once
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            File.Delete(path);
        }
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
