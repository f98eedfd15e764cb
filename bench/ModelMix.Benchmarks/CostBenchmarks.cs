using BenchmarkDotNet.Attributes;
using ModelMix.Pricing;

namespace ModelMix.Benchmarks;

/// <summary>Measures <see cref="PriceBook.Cost"/> on the embedded default book (goal: under 200 ns, 0 bytes).</summary>
[MemoryDiagnoser]
public class CostBenchmarks
{
    private static readonly DateTimeOffset s_at = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly PriceBook _book = PriceBook.Default;
    private readonly TokenUsage _plain = new(1_234, 567);
    private readonly TokenUsage _cachedBatch = new(29, 87, 3_150, 2_412, 5_562, ServiceTier.Batch);
    private readonly TokenUsage _searched = new(12_000, 900, WebSearchRequests: 5, WebFetchRequests: 2);

    /// <summary>A plain call: uncached input and output on an alias.</summary>
    [Benchmark(Baseline = true)]
    public decimal Plain() => _book.Cost("claude-sonnet-4-5", _plain, s_at).Total;

    /// <summary>A batch call with 5m and 1h cache writes and cache reads on a dated id.</summary>
    [Benchmark]
    public decimal CachedBatch() => _book.Cost("claude-sonnet-4-5-20250929", _cachedBatch, s_at).Total;

    /// <summary>A call that ran web searches and fetches: the server-tool fees are looked up and added too.</summary>
    [Benchmark]
    public decimal WithServerTools() => _book.Cost("claude-sonnet-4-5", _searched, s_at).Total;
}
