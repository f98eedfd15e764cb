using Anthropic.Models.Messages;
using Anthropic.Models.Messages.Batches;

namespace ModelMix.IntegrationTests.FakeAnthropicTests;

/// <summary>The fake's Message Batches API as the official SDK sees it: cancel, list, and params validated late.</summary>
public sealed class FakeBatchesTests : FakeServerTest
{
    [Fact]
    public async Task Cancel_answers_canceling_then_the_batch_ends_with_its_requests_canceled_and_lists_first()
    {
        Server.Batches.InProgressPolls = 5;
        var created = await Client.Messages.Batches.Create(new BatchCreateParams
        {
            Requests =
            [
                new Request { CustomID = "a", Params = new Params { Model = "claude-haiku-4-5", MaxTokens = 64, Messages = [new UserMessageParam("One")] } },
                new Request { CustomID = "b", Params = new Params { Model = "claude-haiku-4-5", MaxTokens = 200000, Messages = [new UserMessageParam("Two")] } },
            ],
        });
        var canceling = await Client.Messages.Batches.Cancel(created.ID, new BatchCancelParams());
        var ended = await Client.Messages.Batches.Retrieve(created.ID, new BatchRetrieveParams());
        var results = new Dictionary<string, MessageBatchResult>();
        await foreach (var line in Client.Messages.Batches.ResultsStreaming(created.ID, new BatchResultsParams()))
        {
            results[line.CustomID] = line.Result;
        }

        var page = await Client.Messages.Batches.List(new BatchListParams());

        Assert.Equal(ProcessingStatus.Canceling, canceling.ProcessingStatus.Value());
        Assert.NotNull(canceling.CancelInitiatedAt);
        Assert.Equal(ProcessingStatus.Ended, ended.ProcessingStatus.Value());
        Assert.Equal((1, 1), (ended.RequestCounts.Canceled, ended.RequestCounts.Errored));
        Assert.True(results["a"].TryPickCanceled(out _));
        Assert.True(results["b"].TryPickErrored(out var errored));
        Assert.Contains("max_tokens: 200000 > 64000", errored!.Error.Error.Json.ToString(), StringComparison.Ordinal);
        Assert.Equal(created.ID, page.Items[0].ID);
        Assert.Equal(1, Server.Batches.CreateCount);
    }
}
