using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Batching;
using ModelMix.Pipeline;

namespace ModelMix.Tests.Pipeline;

public sealed class BatchingChatClientBuilderTests
{
    [Fact]
    public void UseBatching_without_a_store_fails_when_the_client_is_built_naming_what_to_register()
    {
        using var services = new ServiceCollection().BuildServiceProvider();

        var failure = Assert.Throws<InvalidOperationException>(() => new ChatClientBuilder(new ScriptedChatClient("claude-haiku-4-5")).UseModelMixBatching().Build(services));

        Assert.Contains(nameof(IBatchStore), failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UseBatching_takes_the_registered_store_and_exposes_it()
    {
        var path = Path.Combine(Path.GetTempPath(), "modelmix-ut-" + Guid.NewGuid().ToString("N") + ".db");
        await using var store = new SqliteBatchStore(path);
        await using var services = new ServiceCollection().AddSingleton<IBatchStore>(store).BuildServiceProvider();

        using var client = new ChatClientBuilder(new ScriptedChatClient("claude-haiku-4-5")).UseModelMixBatching().Build(services);

        Assert.Same(store, client.GetService<IBatchStore>());
        Assert.NotNull(client.GetService<BatchingChatClient>());
    }
}
