using FakeAnthropic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Ledger;
using ModelMix.Pipeline;

namespace ModelMix.IntegrationTests.Pipeline;

public sealed class ServiceCollectionTests : LedgerPipelineTest
{
    [Fact]
    public async Task AddChatClient_UseModelMixLedger_resolves_the_recorder_from_the_services()
    {
        Server.Enqueue(FakeReply.Message("messages/response-cache-read.json"));
        var services = new ServiceCollection();
        services.AddSingleton(Recorder);
        services.AddChatClient(Sdk.AsIChatClient("claude-sonnet-4-5"))
            .UseModelMixLedger(options => options.DefaultKeyId = "service-key");
        await using var provider = services.BuildServiceProvider();

        var chat = provider.GetRequiredService<IChatClient>();
        await chat.GetResponseAsync("Is it warm enough in Paris today?", new ChatOptions().WithTaskLabel("weather"));

        Assert.Same(Recorder, chat.GetService<AttemptRecorder>());
        Assert.NotNull(chat.GetService<LedgerChatClient>());
        var record = Assert.Single(await CommittedRecordsAsync());
        Assert.Equal("weather", record.TaskLabel);
        Assert.Equal("service-key", record.KeyId);
        Assert.Equal(5562, record.Usage.CacheReadTokens);
        Assert.Equal(LedgerStatus.Ok, record.Status);
    }

    [Fact]
    public void UseModelMixLedger_without_a_registered_recorder_fails_with_a_message_that_says_what_to_register()
    {
        var services = new ServiceCollection();
        services.AddChatClient(Sdk.AsIChatClient("claude-sonnet-4-5")).UseModelMixLedger();
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IChatClient>());
        Assert.Contains(nameof(AttemptRecorder), error.Message, StringComparison.Ordinal);
    }
}
