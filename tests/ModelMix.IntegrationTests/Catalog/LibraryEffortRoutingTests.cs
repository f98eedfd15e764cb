using Microsoft.Extensions.AI;
using ModelMix.Catalog;
using ModelMix.IntegrationTests.Pipeline;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.IntegrationTests.Catalog;

/// <summary>Effort as a routing lever in the library door, over the official SDK against FakeAnthropic.</summary>
public sealed class LibraryEffortRoutingTests : LedgerPipelineTest
{
    private IChatClient Client(string target) => new ChatClientBuilder(Sdk.AsIChatClient("claude-haiku-5-5"))
        .UseModelMixRouting(RulesPolicy.Create([new RoutingRuleOptions { Name = "everything", Target = target }], PriceBook.Default))
        .UseModelMixLedger(Recorder)
        .Build();

    [Fact]
    public async Task A_rules_effort_overrides_the_callers_on_the_wire_and_in_the_ledger()
    {
        using var client = Client("opus@low");

        await client.GetResponseAsync("Review the design.", new ChatOptions { MaxOutputTokens = 64 }.WithEffort(EffortLevel.High));

        var sent = Assert.Single(Server.MessageRequests).Json!;
        Assert.Equal("claude-opus-5-5", sent["model"]!.GetValue<string>());
        Assert.Equal("low", sent["output_config"]!["effort"]!.GetValue<string>());
        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal(("low", false), (record.Effort, record.EffortIsDefault));
    }

    [Fact]
    public async Task Without_a_rule_effort_the_callers_stands_and_without_either_the_default_is_recorded()
    {
        using var client = Client("opus");

        await client.GetResponseAsync("a", new ChatOptions { MaxOutputTokens = 64 }.WithEffort(EffortLevel.High));
        await client.GetResponseAsync("b", new ChatOptions { MaxOutputTokens = 64 });

        var records = await CommittedRecordsAsync();
        Assert.Equal(("high", false), (records[0].Effort, records[0].EffortIsDefault));
        Assert.Equal(("medium", true), (records[1].Effort, records[1].EffortIsDefault)); // Opus 5.5's default
        Assert.Null(Server.MessageRequests[1].Json!["output_config"]);
    }

    [Fact]
    public void WithEffort_round_trips_and_clears() =>
        Assert.Equal(
            (EffortLevel.XHigh, EffortLevel.Unspecified),
            (new ChatOptions().WithEffort(EffortLevel.XHigh).GetEffort(), new ChatOptions().WithEffort(EffortLevel.Low).WithEffort(EffortLevel.Unspecified).GetEffort()));
}
