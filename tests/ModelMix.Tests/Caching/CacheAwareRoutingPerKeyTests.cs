using Microsoft.Extensions.Time.Testing;
using ModelMix.Caching;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Caching;

/// <summary>
/// A session is its key's (issue 20 item 7): the cache a session warmed under one key keeps that key's turns on the warm
/// model, and another key naming the same session finds nothing warm. Figures as in <see cref="CacheAwareRoutingTests"/>.
/// </summary>
public sealed class CacheAwareRoutingPerKeyTests
{
    private const string Sonnet = "claude-sonnet-4-6";
    private const string Haiku = "claude-haiku-4-5-20251001";
    private static readonly DateTimeOffset Now = new(2026, 4, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_session_warmed_under_one_key_is_not_warm_for_another_key_naming_the_same_session()
    {
        var routing = new CacheAwareRouting(PriceBook.Default, new InMemoryPromptCacheWarmStore(), time: new FakeTimeProvider(Now));
        var toHaiku = new RoutingDecision(Haiku, "rule 'extraction-cheap' → haiku", 0.8, "rules");

        // Key A's session "s1" wrote 3,000 tokens of cache on Sonnet, observed as the proxy observes it: scoped by the record's key.
        await routing.ObserveAsync(SessionScope.Of("key-a", "s1"), Sonnet, new TokenUsage(30, 16, CacheWrite5mTokens: 3_000));

        // Key A's next turn stays warm: staying costs $0.00123, switching $0.00311 (CacheAwareRoutingTests' first case) …
        Assert.Equal(Sonnet, (await routing.AdjustAsync(toHaiku, Turn("key-a"))).Model);

        // … key B's session of the same name has nothing warm: the policy's decision stands as it was.
        Assert.Equal(toHaiku, await routing.AdjustAsync(toHaiku, Turn("key-b")));
    }

    private static RoutingRequest Turn(string keyId) => new()
    {
        KeyId = keyId,
        SessionId = "s1",
        EstimatedInputTokens = 3_030,
        MaxTokens = 16,
    };
}
