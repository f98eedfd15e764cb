using Anthropic.Models.Messages;
using Anthropic.Models.Messages.Batches;
using Anthropic.Models.Models;

namespace ModelMix.IntegrationTests.FakeAnthropicTests;

public sealed class OtherEndpointsTests : FakeServerTest
{
    [Fact]
    public async Task CountTokens_answers_the_fixture()
    {
        var count = await Client.Messages.CountTokens(new MessageCountTokensParams
        {
            Model = "claude-sonnet-4-5",
            Messages = [new UserMessageParam("Is it warm enough in Paris?")],
        });

        Assert.Equal(5591, count.InputTokens);
        Assert.Equal("/v1/messages/count_tokens", Server.Requests.Single().Path);
        Assert.Equal(0, Server.MessageCount);
    }

    [Fact]
    public async Task Models_list_and_retrieve_parse_strictly()
    {
        var page = await Client.Models.List(new ModelListParams());
        var haiku = await Client.Models.Retrieve("claude-haiku-4-5", new ModelRetrieveParams());

        Assert.Equal(
            ["claude-opus-4-5-20251101", "claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929"],
            page.Items.Select(m => m.ID));
        Assert.Equal("claude-haiku-4-5-20251001", haiku.ID);
    }

    [Fact]
    public async Task Batch_goes_from_in_progress_to_ended_and_serves_its_results()
    {
        var created = await Client.Messages.Batches.Create(new BatchCreateParams
        {
            Requests =
            [
                new Request
                {
                    CustomID = "ticket-1",
                    Params = new Params { Model = "claude-haiku-4-5", MaxTokens = 64, Messages = [new UserMessageParam("Summarize")] },
                },
            ],
        });
        var polled = await Client.Messages.Batches.Retrieve(created.ID, new BatchRetrieveParams());
        var ended = await Client.Messages.Batches.Retrieve(created.ID, new BatchRetrieveParams());
        var results = new List<MessageBatchIndividualResponse>();
        await foreach (var line in Client.Messages.Batches.ResultsStreaming(created.ID, new BatchResultsParams()))
        {
            results.Add(line);
        }

        Assert.Matches("^msgbatch_01[1-9A-HJ-NP-Za-km-z]{22}$", created.ID);
        Assert.Equal(ProcessingStatus.InProgress, created.ProcessingStatus.Value());
        Assert.Equal(ProcessingStatus.InProgress, polled.ProcessingStatus.Value());
        Assert.Equal(ProcessingStatus.Ended, ended.ProcessingStatus.Value());
        Assert.Equal(created.ID, ended.ID);
        var result = Assert.Single(results);
        Assert.Equal("ticket-1", result.CustomID);
        Assert.True(result.Result.TryPickSucceeded(out var succeeded));
        Assert.Equal("claude-haiku-4-5-20251001", succeeded!.Message.Model.Raw());
    }
}
