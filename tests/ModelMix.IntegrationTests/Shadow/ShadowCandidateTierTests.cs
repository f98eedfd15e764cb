using System.Net;
using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using ModelMix.IntegrationTests.Pipeline;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Shadow;

namespace ModelMix.IntegrationTests.Shadow;

/// <summary>
/// A shadow candidate named by its tier (issue 20 §12): <c>haiku</c> used to pass the start and then fail every shadow
/// job with "Unknown model 'haiku'", leaving an unpriced "haiku" row. Now a tier resolves to its model, as routing
/// targets and the fallback chain do, on both doors; a name that is neither a tier nor a priced model fails the start.
/// </summary>
public sealed class ShadowCandidateTierTests
{
    private static async Task<ShadowPair> WaitForPairAsync(string dbPath)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            await using var store = new SqliteLedgerStore(dbPath);
            await store.MigrateAsync();
            await foreach (var pair in store.ReadShadowPairsAsync())
            {
                return pair;
            }

            await Task.Delay(50, timeout.Token);
        }
    }

    [Fact]
    public async Task The_proxy_sends_a_tier_candidate_to_the_tiers_model_and_prices_it()
    {
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:Shadow:CandidateModel"] = "haiku";
            settings["ModelMix:Shadow:DefaultRate"] = "1";
        });
        using var http = harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
        {
            Content = new StringContent("""{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"Classify the sentiment: I love it."}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var pair = await WaitForPairAsync(harness.DbPath);
        Assert.Equal(("claude-haiku-4-5", "claude-haiku-5-5", "ok"), (pair.LiveModel, pair.ShadowModel, pair.Status));
        Assert.Equal("claude-haiku-5-5", harness.Fake.MessageRequests[1].Json!["model"]!.GetValue<string>());
        var shadow = Assert.Single(await harness.ReadLedgerAsync(), r => r.Policy == ShadowRunner.Policy);
        Assert.Equal((LedgerStatus.Ok, "claude-haiku-5-5"), (shadow.Status, shadow.RoutedModel));
        Assert.NotNull(shadow.Cost);
        Assert.Equal(shadow.Cost!.Value.Total, pair.ShadowCostUsd);
    }

    [Theory]
    [InlineData("ModelMix:Shadow:CandidateModel", "haikoo")]
    [InlineData("ModelMix:Shadow:CandidateModel", "claude-imaginary-9")]
    [InlineData("ModelMix:Shadow:JudgeModel", "sonet")]
    public async Task The_proxy_refuses_to_start_with_a_candidate_or_judge_it_cannot_resolve(string key, string value)
    {
        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:Shadow:CandidateModel"] = "haiku";
            settings["ModelMix:Shadow:Comparison"] = "Judge";
            settings["ModelMix:Shadow:JudgeModel"] = "sonnet";
            settings["ModelMix:Shadow:DefaultRate"] = "1";
            settings[key] = value;
        }));

        Assert.Contains($"{key} '{value}' is neither a tier (haiku, sonnet, opus, fable) nor a model in the price book", failure.Message, StringComparison.Ordinal);
    }

    /// <summary>The library door: the same resolution, in <see cref="ShadowRunner"/>, shared by <see cref="ShadowChatClient"/>.</summary>
    public sealed class LibraryDoor : LedgerPipelineTest, IAsyncLifetime
    {
        private readonly ShadowReplies _replies = new();

        private (IChatClient Chat, ShadowRunner Runner) Pipeline(string candidate)
        {
            var options = new ShadowOptions { CandidateModel = candidate, DefaultRate = 1.0 };
            var inner = new ChatClientBuilder(Sdk.AsIChatClient("claude-haiku-4-5")).UseModelMixLedger(Recorder).Build();
            var runner = new ShadowRunner(options, PriceBook.Default, (IShadowPairStore)Ledger.Store, inner);
            return (new ShadowChatClient(inner, runner, PriceBook.Default, ownsRunner: true), runner);
        }

        [Fact]
        public async Task A_tier_candidate_is_sent_to_the_tiers_model_and_priced()
        {
            Server.Enqueue(_replies.Text("positive"));
            Server.Enqueue(_replies.Text("positive"));
            var (chat, runner) = Pipeline("haiku");
            using (chat)
            {
                await chat.GetResponseAsync("Classify: I love it.", new ChatOptions { ModelId = "claude-haiku-4-5" });
                await runner.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(60));

                Assert.Equal(("claude-haiku-5-5", ModelMix.Catalog.EffortLevel.Unspecified), (runner.CandidateModelId, runner.CandidateEffort));
                Assert.Equal("claude-haiku-5-5", Server.MessageRequests[1].Json!["model"]!.GetValue<string>());
                var records = await CommittedRecordsAsync();
                var shadow = Assert.Single(records, r => r.Policy == ShadowRunner.Policy);
                Assert.Equal((LedgerStatus.Ok, "claude-haiku-5-5"), (shadow.Status, shadow.RoutedModel));
                Assert.NotNull(shadow.Cost);
                await foreach (var pair in ((IShadowPairStore)Ledger.Store).ReadShadowPairsAsync())
                {
                    Assert.Equal(("claude-haiku-5-5", 1.0), (pair.ShadowModel, pair.Agreement));
                }
            }
        }

        [Fact]
        public async Task A_tier_with_an_effort_is_the_tiers_model_at_that_effort()
        {
            Server.Enqueue(_replies.Text("positive"));
            Server.Enqueue(_replies.Text("positive"));
            var (chat, runner) = Pipeline("opus@low");
            using (chat)
            {
                await chat.GetResponseAsync("Classify: I love it.", new ChatOptions { ModelId = "claude-haiku-4-5" });
                await runner.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(60));

                Assert.Equal("claude-opus-5-5@low", runner.CandidateLabel);
                var shadowCall = Server.MessageRequests[1].Json!;
                Assert.Equal("claude-opus-5-5", shadowCall["model"]!.GetValue<string>());
                Assert.Equal("low", shadowCall["output_config"]!["effort"]!.GetValue<string>());
            }
        }

        [Fact]
        public void A_candidate_that_is_neither_a_tier_nor_a_priced_model_is_refused_when_the_stage_is_built()
        {
            var failure = Assert.Throws<ArgumentException>(() => Pipeline("haikoo"));

            Assert.Contains("CandidateModel 'haikoo' is neither a tier (haiku, sonnet, opus, fable) nor a model in the price book", failure.Message, StringComparison.Ordinal);
        }

        public new async Task DisposeAsync()
        {
            _replies.Dispose();
            await base.DisposeAsync();
        }
    }
}
