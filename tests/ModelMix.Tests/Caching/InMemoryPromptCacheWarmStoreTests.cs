using ModelMix.Caching;

namespace ModelMix.Tests.Caching;

/// <summary>The warm-store contract on the in-process store.</summary>
public sealed class InMemoryPromptCacheWarmStoreTests : PromptCacheWarmStoreContractTests
{
    private readonly InMemoryPromptCacheWarmStore _store = new();

    protected override Task<(IPromptCacheWarmStore Store, IPromptCacheWarmStore Reader)> CreateAsync() =>
        Task.FromResult<(IPromptCacheWarmStore, IPromptCacheWarmStore)>((_store, _store));

    protected override Task CommitAsync() => Task.CompletedTask;

    protected override Task<int> PruneAsync(DateTimeOffset now) => Task.FromResult(_store.Prune(now));

    protected override Task ReleaseAsync() => Task.CompletedTask;
}
