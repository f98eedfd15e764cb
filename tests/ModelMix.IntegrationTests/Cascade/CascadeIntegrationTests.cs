using FakeAnthropic;
using Microsoft.Extensions.AI;
using ModelMix.IntegrationTests.Pipeline;
using ModelMix.Ledger;
using ModelMix.Pipeline;

namespace ModelMix.IntegrationTests.Cascade;

/// <summary>The confidence cascade over real HTTP: SDK AsIChatClient → FakeAnthropic, every attempt in a SQLite ledger.</summary>
public sealed class CascadeIntegrationTests : LedgerPipelineTest, IDisposable
{
    // The default cascade tiers (haiku, sonnet) resolve to the catalog's tier models.
    private const string Haiku = "claude-haiku-5-5";
    private const string Sonnet = "claude-sonnet-5-5";
    private const string Prompt = "Which of our three warehouses should ship order 4411 to Lyon?";

    private readonly TextReplies _replies = new();

    public void Dispose() => _replies.Dispose();

    private IChatClient Pipeline(Action<CascadeOptions>? configure = null) =>
        new ChatClientBuilder(Sdk.AsIChatClient("claude-haiku-4-5"))
            .UseModelMixCascade(configure)
            .UseModelMixLedger(Recorder)
            .Build();

    [Fact]
    public async Task Cascade_does_not_escalate_when_the_cheap_answer_is_confident()
    {
        Server.Enqueue(_replies.Message("{\"answer\":\"Ship from Marseille.\",\"confidence\":0.91}").WithUsage(input: 120, output: 20));
        using var chat = Pipeline();

        var response = await chat.GetResponseAsync(Prompt, new ChatOptions().WithTaskLabel("logistics"));

        Assert.Equal("Ship from Marseille.", response.Text);
        var request = Assert.Single(Server.MessageRequests);
        Assert.Equal(Haiku, request.Json!["model"]!.GetValue<string>());
        Assert.Contains("confidence", request.Json["system"]!.ToJsonString(), StringComparison.Ordinal);
        var format = request.Json["output_config"]!["format"]!;
        Assert.Equal("json_schema", format["type"]!.GetValue<string>());
        Assert.NotNull(format["schema"]!["properties"]!["confidence"]);
        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal("cascade", record.Policy);
        Assert.Equal(1, record.Attempt);
        Assert.Null(record.EscalatedFrom);
        Assert.Equal(Haiku, record.RoutedModel);
        Assert.Equal("logistics", record.TaskLabel);
        var result = response.GetCascadeResult()!;
        Assert.Equal(record.RequestId, result.RequestId);
        Assert.Equal(0.91, result.Confidence);
        Assert.Equal(record.Cost!.Value.Total, result.TotalCost);
    }

    [Fact]
    public async Task Cascade_escalates_from_haiku_to_sonnet_when_unsure_and_the_ledger_holds_both_attempts()
    {
        Server.Enqueue(_replies.Message("{\"answer\":\"Probably Paris.\",\"confidence\":0.42}").WithUsage(input: 120, output: 20));
        Server.Enqueue(_replies.Message("{\"answer\":\"Ship from Marseille: it is closest and has stock.\",\"confidence\":0.88}").WithUsage(input: 120, output: 40));
        using var chat = Pipeline();

        var response = await chat.GetResponseAsync(Prompt);

        Assert.Equal("Ship from Marseille: it is closest and has stock.", response.Text);
        Assert.Equal([Haiku, Sonnet], Server.MessageRequests.Select(r => r.Json!["model"]!.GetValue<string>()));
        var records = await CommittedRecordsAsync();
        Assert.Equal(2, records.Count);
        Assert.Single(records.Select(r => r.RequestId).Distinct());
        Assert.Equal([1, 2], records.Select(r => r.Attempt));
        Assert.Equal([Haiku, Sonnet], records.Select(r => r.RoutedModel));
        Assert.Null(records[0].EscalatedFrom);
        Assert.Equal(Haiku, records[1].EscalatedFrom);
        Assert.All(records, r => Assert.Equal("cascade", r.Policy));
        Assert.Equal("confidence 0.42 < 0.70 on haiku → sonnet", records[1].Reason);
        var result = response.GetCascadeResult()!;
        Assert.Equal("haiku → sonnet", result.Path);
        Assert.Equal(records[0].RequestId, result.RequestId);
        var totals = await Ledger.GetTotalsAsync(new LedgerQuery { RequestId = result.RequestId });
        Assert.Equal(totals.TotalCost, result.TotalCost);
        Assert.Equal(2, totals.Count);
    }

    [Fact]
    public async Task Cascade_respects_max_escalations()
    {
        Server.Enqueue(_replies.Message("{\"answer\":\"a\",\"confidence\":0.1}"));
        Server.Enqueue(_replies.Message("{\"answer\":\"b\",\"confidence\":0.2}"));
        Server.Enqueue(_replies.Message("{\"answer\":\"c\",\"confidence\":0.9}"));
        using var chat = Pipeline(o => o.MaxEscalations = 1);

        var response = await chat.GetResponseAsync(Prompt);

        Assert.Equal("b", response.Text);
        Assert.Equal(2, Server.MessageCount);
        var records = await CommittedRecordsAsync();
        Assert.Equal(2, records.Count);
        Assert.Equal(1, response.GetCascadeResult()!.Escalations);
        Assert.Equal(0.2, response.GetCascadeResult()!.Confidence);
    }

    [Fact]
    public async Task Verifier_mode_records_the_verifier_call_as_an_attempt_of_the_same_request()
    {
        Server.Enqueue(_replies.Message("Probably Paris."));
        Server.Enqueue(_replies.Message("{\"confidence\":0.25,\"reason\":\"ignores stock levels\"}"));
        Server.Enqueue(_replies.Message("Ship from Marseille."));
        using var chat = Pipeline(o =>
        {
            o.ConfidenceSource = CascadeConfidenceSource.Verifier;
            o.MaxEscalations = 1;
        });

        var response = await chat.GetResponseAsync(Prompt, new ChatOptions().WithRequestId("req-verify"));

        Assert.Equal("Ship from Marseille.", response.Text);
        var requests = Server.MessageRequests;
        Assert.Null(requests[0].Json!["output_config"]);
        Assert.Contains("Probably Paris.", requests[1].Body, StringComparison.Ordinal);
        Assert.NotNull(requests[1].Json!["output_config"]!["format"]!["schema"]!["properties"]!["confidence"]);
        Assert.Contains("You grade answers", requests[1].Json!["system"]!.ToJsonString(), StringComparison.Ordinal);
        var records = await CommittedRecordsAsync();
        Assert.Equal(3, records.Count);
        Assert.All(records, r => Assert.Equal("req-verify", r.RequestId));
        Assert.Equal([1, 2, 3], records.Select(r => r.Attempt));
        Assert.Equal([Haiku, Haiku, Sonnet], records.Select(r => r.RoutedModel));
        Assert.StartsWith("verifier on haiku", records[1].Reason, StringComparison.Ordinal);
        Assert.Equal("confidence 0.25 < 0.70 on haiku → sonnet", records[2].Reason);
        Assert.Equal(Haiku, records[2].EscalatedFrom);
        Assert.Equal(records.Sum(r => r.Cost!.Value.Total), response.GetCascadeResult()!.TotalCost);
    }

    [Fact]
    public async Task Streaming_buffers_the_cheap_answer_and_streams_the_escalated_one()
    {
        Server.Enqueue(_replies.Message("{\"answer\":\"Probably Paris.\",\"confidence\":0.3}"));
        Server.Enqueue(FakeReply.Stream().WithUsage(input: 50, output: 60));
        using var chat = Pipeline(o => o.MaxEscalations = 1);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync(Prompt))
        {
            updates.Add(update);
        }

        var response = updates.ToChatResponse();
        Assert.False(string.IsNullOrWhiteSpace(response.Text));
        Assert.DoesNotContain("Probably Paris", response.Text, StringComparison.Ordinal);
        var requests = Server.MessageRequests;
        Assert.Null(requests[0].Json!["stream"]);
        Assert.True(requests[1].Json!["stream"]!.GetValue<bool>());
        var records = await CommittedRecordsAsync();
        Assert.Equal([false, true], records.Select(r => r.Streaming));
        Assert.Equal(Haiku, records[1].EscalatedFrom);
        var result = response.GetCascadeResult()!;
        Assert.Equal("haiku → sonnet", result.Path);
        Assert.Equal(records.Sum(r => r.Cost!.Value.Total), result.TotalCost);
    }
}
