using ModelMix.Evaluation;
using ModelMix.Pricing;

namespace ModelMix.Tests.Evaluation;

/// <summary>What prompt caching saved, by hand from the price book: Sonnet 4.5 $3 input, writes 5m $3.75 / 1h $6, reads $0.30.</summary>
public sealed class SavingsCachingTests
{
    [Fact]
    public void Caching_saved_is_the_cached_tokens_as_plain_input_minus_their_cost_as_used()
    {
        var at = new DateTimeOffset(2026, 3, 20, 0, 0, 0, TimeSpan.Zero);
        var rows = new[]
        {
            // as used: 100 × $3 + 10,000 × $3.75 + 90,000 × $0.30 = $0.0648; as plain input: 100,100 × $3 = $0.3003 → +$0.2355
            new UsageRow(at, "claude-sonnet-4-5", new TokenUsage(100, 0, CacheWrite5mTokens: 10_000, CacheReadTokens: 90_000), null),
            // a 1h write never read: 10,000 × $6 = $0.06 vs $0.03 → −$0.03
            new UsageRow(at, "claude-sonnet-4-5", new TokenUsage(0, 0, CacheWrite1hTokens: 10_000), null),
        };

        var report = SavingsCalculator.Compute(rows, PriceBook.Default, at, [], []);

        Assert.Equal(0.2055m, report.CachingSavedUsd);
    }
}
