using Microsoft.Extensions.Time.Testing;
using ModelMix.Caching;

namespace ModelMix.Tests.Caching;

/// <summary>
/// The contract every <see cref="IPromptCacheWarmStore"/> keeps (get, set, replace, expiry, prune), run against the
/// in-memory and the PostgreSQL stores by subclasses. Writes go through <see cref="Store"/>; reads through
/// <see cref="Reader"/>, which for a shared store is another replica over the same database.
/// </summary>
public abstract class PromptCacheWarmStoreContractTests : IAsyncLifetime
{
    protected static readonly DateTimeOffset T0 = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);

    protected FakeTimeProvider Time { get; } = new(T0);

    /// <summary>The store written to.</summary>
    protected IPromptCacheWarmStore Store { get; private set; } = null!;

    /// <summary>The store read from (the same one, or another replica of a shared store).</summary>
    protected IPromptCacheWarmStore Reader { get; private set; } = null!;

    /// <summary>Creates an empty store (and its database) and the store to read through.</summary>
    protected abstract Task<(IPromptCacheWarmStore Store, IPromptCacheWarmStore Reader)> CreateAsync();

    /// <summary>Waits until what <see cref="Store"/> was given is visible to <see cref="Reader"/>.</summary>
    protected abstract Task CommitAsync();

    /// <summary>Removes the entries expired at <paramref name="now"/> and returns how many.</summary>
    protected abstract Task<int> PruneAsync(DateTimeOffset now);

    /// <summary>Releases the stores.</summary>
    protected abstract Task ReleaseAsync();

    public async Task InitializeAsync() => (Store, Reader) = await CreateAsync();

    public Task DisposeAsync() => ReleaseAsync();

    private static PromptCacheWarmth Warm(string model, long prefix, TimeSpan lives) => new(model, prefix, T0 + lives);

    [Fact]
    public async Task An_unknown_session_has_no_warmth()
    {
        Assert.Null(await Reader.GetAsync("nobody", T0));
    }

    [Fact]
    public async Task A_recorded_warmth_is_read_back_exactly()
    {
        var warmth = Warm("claude-sonnet-4-6", 3_612, TimeSpan.FromMinutes(5));

        await Store.SetAsync("s1", warmth);
        await CommitAsync();

        Assert.Equal(warmth, await Reader.GetAsync("s1", T0 + TimeSpan.FromSeconds(10)));
        Assert.Null(await Reader.GetAsync("s2", T0));
    }

    [Fact]
    public async Task A_later_write_replaces_the_sessions_warmth_even_with_an_earlier_expiry()
    {
        await Store.SetAsync("s1", Warm("claude-opus-4-6", 9_000, TimeSpan.FromHours(1)));
        await CommitAsync();
        var moved = Warm("claude-haiku-4-5", 5_000, TimeSpan.FromMinutes(5));

        await Store.SetAsync("s1", moved);
        await CommitAsync();

        Assert.Equal(moved, await Reader.GetAsync("s1", T0 + TimeSpan.FromMinutes(1)));
        Assert.Null(await Reader.GetAsync("s1", T0 + TimeSpan.FromMinutes(6))); // the replaced 1-hour entry is gone too
    }

    [Fact]
    public async Task Warmth_is_gone_from_the_instant_it_expires()
    {
        await Store.SetAsync("s1", Warm("claude-sonnet-4-5", 2_000, TimeSpan.FromMinutes(5)));
        await CommitAsync();

        Assert.NotNull(await Reader.GetAsync("s1", T0 + TimeSpan.FromMinutes(5) - TimeSpan.FromMilliseconds(1)));
        Assert.Null(await Reader.GetAsync("s1", T0 + TimeSpan.FromMinutes(5)));
        Assert.Null(await Reader.GetAsync("s1", T0 + TimeSpan.FromHours(2)));
    }

    [Fact]
    public async Task Prune_removes_only_expired_sessions()
    {
        await Store.SetAsync("short", Warm("claude-sonnet-4-5", 2_000, TimeSpan.FromMinutes(1)));
        await Store.SetAsync("medium", Warm("claude-sonnet-4-5", 2_000, TimeSpan.FromMinutes(2)));
        await Store.SetAsync("long", Warm("claude-sonnet-4-5", 2_000, TimeSpan.FromMinutes(10)));
        await CommitAsync();

        Assert.Equal(2, await PruneAsync(T0 + TimeSpan.FromMinutes(5)));
        Assert.Equal(0, await PruneAsync(T0 + TimeSpan.FromMinutes(5)));
        Assert.NotNull(await Reader.GetAsync("long", T0 + TimeSpan.FromMinutes(5)));
        Assert.Equal(1, await PruneAsync(T0 + TimeSpan.FromMinutes(10)));
    }

    [Fact]
    public async Task Many_sessions_written_at_once_are_each_kept_apart()
    {
        await Task.WhenAll(Enumerable.Range(0, 300).Select(i =>
            Store.SetAsync("session-" + i, Warm(i % 2 == 0 ? "claude-sonnet-4-6" : "claude-opus-4-6", 1_000 + i, TimeSpan.FromMinutes(5))).AsTask()));
        await CommitAsync();

        for (var i = 0; i < 300; i += 7)
        {
            var warmth = await Reader.GetAsync("session-" + i, T0);
            Assert.Equal(Warm(i % 2 == 0 ? "claude-sonnet-4-6" : "claude-opus-4-6", 1_000 + i, TimeSpan.FromMinutes(5)), warmth);
        }
    }
}
