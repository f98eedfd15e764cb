using System.Globalization;
using ModelMix.Pricing;

namespace ModelMix.Tests.Pricing;

/// <summary>
/// Golden cost cases on the embedded default price book. Every expected value is worked out by hand in the comment
/// next to its row: token counts times the rate in $/MTok, summed, divided by 1,000,000, times the modifiers.
/// Rates ($/MTok, input / output / 5m write / 1h write / read): Haiku 4.5 1/5/1.25/2/0.1, Sonnet 3/15/3.75/6/0.3,
/// Sonnet long context 6/22.5/7.5/12/0.6, Opus 4.5-4.6 5/25/6.25/10/0.5, Opus 4.6 long context (until 2026-03-13)
/// 10/37.5, Opus 3-4.1 15/75, Haiku 3.5 0.8/4/1/1.6/0.08, Haiku 3 0.25/1.25/0.30/0.50/0.03 (explicit).
/// </summary>
public sealed class CostGoldenTests
{
    private const string At = "2026-06-01T00:00:00Z";

    /// <summary>
    /// The embedded default prices, built afresh for each use (an empty overlay through <see cref="PriceBook.Parse"/>)
    /// rather than the process-wide <see cref="PriceBook.Default"/>: the same file and build code, but a book built
    /// once per process runs that code before any test, so a mutation tool that switches mutants in place in one test
    /// process (Stryker.NET) could not see a wrong build (rates, multipliers, long-context and residency tables).
    /// </summary>
    private static PriceBook Book => PriceBook.Parse("""{"models":[]}""", PriceBook.DefaultSourceName);

    [Theory]
    // ---- plain input / output per model ----
    // 1000*1 + 500*5 = 1000+2500 = 3500 /1e6 = 0.0035
    [InlineData("claude-haiku-4-5", 1000, 500, 0, 0, 0, "standard", "standard", null, At, "0.0035")]
    // dated id, same price: 1000*1 + 500*5 = 3500 /1e6 = 0.0035
    [InlineData("claude-haiku-4-5-20251001", 1000, 500, 0, 0, 0, "standard", "standard", null, At, "0.0035")]
    // 1000*3 + 500*15 = 3000+7500 = 10500 /1e6 = 0.0105
    [InlineData("claude-sonnet-4-5-20250929", 1000, 500, 0, 0, 0, "standard", "standard", null, At, "0.0105")]
    // alias: 1000*3 + 500*15 = 10500 /1e6 = 0.0105
    [InlineData("claude-sonnet-4-5", 1000, 500, 0, 0, 0, "standard", "standard", null, At, "0.0105")]
    // 1234*3 + 567*15 = 3702+8505 = 12207 /1e6 = 0.012207
    [InlineData("claude-sonnet-4-6", 1234, 567, 0, 0, 0, "standard", "standard", null, At, "0.012207")]
    // 2000*3 + 100*15 = 6000+1500 = 7500 /1e6 = 0.0075
    [InlineData("claude-sonnet-4-0", 2000, 100, 0, 0, 0, "standard", "standard", null, At, "0.0075")]
    // 1000*5 + 1000*25 = 5000+25000 = 30000 /1e6 = 0.03
    [InlineData("claude-opus-4-5", 1000, 1000, 0, 0, 0, "standard", "standard", null, At, "0.03")]
    // 777*5 + 333*25 = 3885+8325 = 12210 /1e6 = 0.01221
    [InlineData("claude-opus-4-6", 777, 333, 0, 0, 0, "standard", "standard", null, At, "0.01221")]
    // 1000*15 + 1000*75 = 15000+75000 = 90000 /1e6 = 0.09
    [InlineData("claude-opus-4-1", 1000, 1000, 0, 0, 0, "standard", "standard", null, At, "0.09")]
    // 10*15 + 20*75 = 150+1500 = 1650 /1e6 = 0.00165
    [InlineData("claude-opus-4-20250514", 10, 20, 0, 0, 0, "standard", "standard", null, At, "0.00165")]
    // 1000*0.8 + 1000*4 = 800+4000 = 4800 /1e6 = 0.0048
    [InlineData("claude-3-5-haiku-20241022", 1000, 1000, 0, 0, 0, "standard", "standard", null, At, "0.0048")]
    // 1000*0.25 + 1000*1.25 = 250+1250 = 1500 /1e6 = 0.0015
    [InlineData("claude-3-haiku-20240307", 1000, 1000, 0, 0, 0, "standard", "standard", null, At, "0.0015")]
    // 1000*3 + 1000*15 = 18000 /1e6 = 0.018
    [InlineData("claude-3-sonnet-20240229", 1000, 1000, 0, 0, 0, "standard", "standard", null, "2024-06-01T00:00:00Z", "0.018")]
    // 1000*15 + 1000*75 = 90000 /1e6 = 0.09
    [InlineData("claude-3-opus-20240229", 1000, 1000, 0, 0, 0, "standard", "standard", null, At, "0.09")]
    // 1000*3 + 1000*15 = 18000 /1e6 = 0.018
    [InlineData("claude-3-7-sonnet-20250219", 1000, 1000, 0, 0, 0, "standard", "standard", null, At, "0.018")]
    // ---- cache components alone and combined ----
    // 10000 5m writes * 3.75 = 37500 /1e6 = 0.0375
    [InlineData("claude-sonnet-4-5", 0, 0, 10000, 0, 0, "standard", "standard", null, At, "0.0375")]
    // 10000 1h writes * 6 = 60000 /1e6 = 0.06
    [InlineData("claude-sonnet-4-5", 0, 0, 0, 10000, 0, "standard", "standard", null, At, "0.06")]
    // 10000 reads * 0.3 = 3000 /1e6 = 0.003
    [InlineData("claude-sonnet-4-5", 0, 0, 0, 0, 10000, "standard", "standard", null, At, "0.003")]
    // 100*3 + 200*15 + 1000*3.75 + 2000*6 + 3000*0.3 = 300+3000+3750+12000+900 = 19950 /1e6 = 0.01995
    [InlineData("claude-sonnet-4-5", 100, 200, 1000, 2000, 3000, "standard", "standard", null, At, "0.01995")]
    // 50*1 + 10*5 + 4096*1.25 = 50+50+5120 = 5220 /1e6 = 0.00522
    [InlineData("claude-haiku-4-5", 50, 10, 4096, 0, 0, "standard", "standard", null, At, "0.00522")]
    // 100*5 + 300*25 + 5000*0.5 = 500+7500+2500 = 10500 /1e6 = 0.0105
    [InlineData("claude-opus-4-5", 100, 300, 0, 0, 5000, "standard", "standard", null, At, "0.0105")]
    // 2048*1 (5m) + 2048*0.08 (read) = 2048+163.84 = 2211.84 /1e6 = 0.00221184
    [InlineData("claude-3-5-haiku-20241022", 0, 0, 2048, 0, 2048, "standard", "standard", null, At, "0.00221184")]
    // ---- Claude 3 Haiku explicit cache rates (not 1.25x / 2x / 0.1x of 0.25) ----
    // 10000*0.30 = 3000 /1e6 = 0.003 (the multiplier would give 0.3125 -> 0.003125)
    [InlineData("claude-3-haiku-20240307", 0, 0, 10000, 0, 0, "standard", "standard", null, At, "0.003")]
    // 10000*0.50 = 5000 /1e6 = 0.005
    [InlineData("claude-3-haiku-20240307", 0, 0, 0, 10000, 0, "standard", "standard", null, At, "0.005")]
    // 10000*0.03 = 300 /1e6 = 0.0003
    [InlineData("claude-3-haiku-20240307", 0, 0, 0, 0, 10000, "standard", "standard", null, At, "0.0003")]
    // 1000*0.25 + 1000*1.25 + 2000*0.30 + 2000*0.50 + 10000*0.03 = 250+1250+600+1000+300 = 3400 /1e6 = 0.0034
    [InlineData("claude-3-haiku-20240307", 1000, 1000, 2000, 2000, 10000, "standard", "standard", null, At, "0.0034")]
    // ---- batch ----
    // (1000*3 + 1000*15) * 0.5 = 18000*0.5 = 9000 /1e6 = 0.009
    [InlineData("claude-sonnet-4-5", 1000, 1000, 0, 0, 0, "batch", "standard", null, At, "0.009")]
    // (100*1 + 100*5 + 1000*1.25 + 1000*2 + 1000*0.1) * 0.5 = (100+500+1250+2000+100)=3950*0.5 = 1975 /1e6 = 0.001975
    [InlineData("claude-haiku-4-5", 100, 100, 1000, 1000, 1000, "batch", "standard", null, At, "0.001975")]
    // (1000*15 + 1000*75) * 0.5 = 90000*0.5 = 45000 /1e6 = 0.045
    [InlineData("claude-opus-4-1", 1000, 1000, 0, 0, 0, "batch", "standard", null, At, "0.045")]
    // priority is billed at the standard list rate: 1000*3 + 1000*15 = 18000 /1e6 = 0.018
    [InlineData("claude-sonnet-4-5", 1000, 1000, 0, 0, 0, "priority", "standard", null, At, "0.018")]
    // ---- long context (Sonnet 4.x) ----
    // just below: 199999*3 + 1000*15 = 599997+15000 = 614997 /1e6 = 0.614997
    [InlineData("claude-sonnet-4-5", 199999, 1000, 0, 0, 0, "standard", "standard", null, At, "0.614997")]
    // exactly 200000 is NOT above: 200000*3 + 1000*15 = 600000+15000 = 615000 /1e6 = 0.615
    [InlineData("claude-sonnet-4-5", 200000, 1000, 0, 0, 0, "standard", "standard", null, At, "0.615")]
    // above: 200001*6 + 1000*22.5 = 1200006+22500 = 1222506 /1e6 = 1.222506
    [InlineData("claude-sonnet-4-5", 200001, 1000, 0, 0, 0, "standard", "standard", null, At, "1.222506")]
    // cache tokens count toward the threshold: total 1000+100000+100000 = 201000 > 200000 ->
    // 1000*6 + 100000*7.5 + 100000*0.6 + 2000*22.5 = 6000+750000+60000+45000 = 861000 /1e6 = 0.861
    [InlineData("claude-sonnet-4-5", 1000, 2000, 100000, 0, 100000, "standard", "standard", null, At, "0.861")]
    // total exactly 100+99900+100000 = 200000 -> standard: 100*3 + 99900*6 + 100000*0.3 + 1000*15
    // = 300+599400+30000+15000 = 644700 /1e6 = 0.6447
    [InlineData("claude-sonnet-4-5", 100, 1000, 0, 99900, 100000, "standard", "standard", null, At, "0.6447")]
    // long context + cache + batch: total 50000+50000+50000+60000 = 210000 ->
    // (50000*6 + 50000*7.5 + 50000*12 + 60000*0.6 + 10000*22.5) * 0.5
    // = (300000+375000+600000+36000+225000)=1536000*0.5 = 768000 /1e6 = 0.768
    [InlineData("claude-sonnet-4-5", 50000, 10000, 50000, 50000, 60000, "batch", "standard", null, At, "0.768")]
    // Sonnet 4: 250000*6 + 2000*22.5 = 1500000+45000 = 1545000 /1e6 = 1.545
    [InlineData("claude-sonnet-4-20250514", 250000, 2000, 0, 0, 0, "standard", "standard", null, At, "1.545")]
    // Sonnet 4.6 before 1M GA (2026-03-13): 300000*6 + 1000*22.5 = 1800000+22500 = 1822500 /1e6 = 1.8225
    [InlineData("claude-sonnet-4-6", 300000, 1000, 0, 0, 0, "standard", "standard", null, "2026-03-01T00:00:00Z", "1.8225")]
    // Sonnet 4.6 after 1M GA: flat rate, 300000*3 + 1000*15 = 900000+15000 = 915000 /1e6 = 0.915
    [InlineData("claude-sonnet-4-6", 300000, 1000, 0, 0, 0, "standard", "standard", null, At, "0.915")]
    // Opus 4.6 before 1M GA: 250000*10 + 1000*37.5 = 2500000+37500 = 2537500 /1e6 = 2.5375
    [InlineData("claude-opus-4-6", 250000, 1000, 0, 0, 0, "standard", "standard", null, "2026-02-20T00:00:00Z", "2.5375")]
    // ---- fast mode (Opus 4.6, 6x) ----
    // (1000*5 + 1000*25) * 6 = 30000*6 = 180000 /1e6 = 0.18
    [InlineData("claude-opus-4-6", 1000, 1000, 0, 0, 0, "standard", "fast", null, At, "0.18")]
    // (100*5 + 100*25 + 1000*0.5) * 6 = (500+2500+500)=3500*6 = 21000 /1e6 = 0.021
    [InlineData("claude-opus-4-6", 100, 100, 0, 0, 1000, "standard", "fast", null, At, "0.021")]
    // fast on top of long-context rates: 2537500 * 6 = 15225000 /1e6 = 15.225
    [InlineData("claude-opus-4-6", 250000, 1000, 0, 0, 0, "standard", "fast", null, "2026-02-20T00:00:00Z", "15.225")]
    // ---- data residency ----
    // (1000*5 + 1000*25) * 1.1 = 30000*1.1 = 33000 /1e6 = 0.033
    [InlineData("claude-opus-4-6", 1000, 1000, 0, 0, 0, "standard", "standard", "us", At, "0.033")]
    // "global" is 1x: 30000 /1e6 = 0.03
    [InlineData("claude-opus-4-6", 1000, 1000, 0, 0, 0, "standard", "standard", "global", At, "0.03")]
    // "not_available" (older models) is 1x: 1000*3 + 1000*15 = 18000 /1e6 = 0.018
    [InlineData("claude-sonnet-4-5", 1000, 1000, 0, 0, 0, "standard", "standard", "not_available", At, "0.018")]
    // (1000*3 + 1000*0.3 + 1000*15) * 1.1 = (3000+300+15000)=18300*1.1 = 20130 /1e6 = 0.02013
    [InlineData("claude-sonnet-4-6", 1000, 1000, 0, 0, 1000, "standard", "standard", "us", At, "0.02013")]
    // geo + batch + fast: 30000 * 0.5 * 6 * 1.1 = 30000*3.3 = 99000 /1e6 = 0.099
    [InlineData("claude-opus-4-6", 1000, 1000, 0, 0, 0, "batch", "fast", "us", At, "0.099")]
    // geo + batch + fast + cache: (100*5 + 100*25 + 1000*6.25 + 1000*10 + 1000*0.5) * 3.3
    // = (500+2500+6250+10000+500)=19750*3.3 = 65175 /1e6 = 0.065175
    [InlineData("claude-opus-4-6", 100, 100, 1000, 1000, 1000, "batch", "fast", "us", At, "0.065175")]
    public void Total_cost_matches_hand_computation(
        string model,
        long input,
        long output,
        long write5m,
        long write1h,
        long read,
        string tier,
        string speed,
        string? geo,
        string at,
        string expected)
    {
        var usage = new TokenUsage(
            input,
            output,
            write5m,
            write1h,
            read,
            AnthropicUsage.ParseServiceTier(tier),
            AnthropicUsage.ParseSpeed(speed),
            geo);

        var cost = Book.Cost(model, usage, DateTimeOffset.Parse(at, CultureInfo.InvariantCulture));

        Assert.Equal(decimal.Parse(expected, CultureInfo.InvariantCulture), cost.Total);
    }

    [Theory]
    // Server-tool fees (prices.json serverTools): web search $10 per 1,000 searches = $0.01 a search, from 2025-05-07;
    // web fetch $0 a fetch (tokens only), from 2025-09-10. No token multiplier (batch, fast, residency) touches the fee.
    // ---- the case: 1,000 searches recorded as if they were free ----
    // tokens 1000*1 + 500*5 = 3500 /1e6 = 0.0035; searches 1000 * 10/1000 = 10; 0.0035 + 10 = 10.0035
    [InlineData("claude-haiku-4-5", 1000, 500, 1000, 0, "standard", "standard", null, At, "10.0035")]
    // one search and nothing else: 1 * 0.01 = 0.01
    [InlineData("claude-haiku-4-5", 0, 0, 1, 0, "standard", "standard", null, At, "0.01")]
    // fetches cost only their tokens: 2000*3 + 100*15 = 6000+1500 = 7500 /1e6 = 0.0075; 3 fetches * 0 = 0
    [InlineData("claude-sonnet-4-5", 2000, 100, 0, 3, "standard", "standard", null, At, "0.0075")]
    // both: 100*1 + 50*5 = 100+250 = 350 /1e6 = 0.00035; 4 searches 0.04; 9 fetches 0; 0.00035 + 0.04 = 0.04035
    [InlineData("claude-haiku-4-5", 100, 50, 4, 9, "standard", "standard", null, At, "0.04035")]
    // batch halves tokens only: (1000*3 + 1000*15) * 0.5 = 9000 /1e6 = 0.009; 5 searches 0.05 (not halved); 0.059
    [InlineData("claude-sonnet-4-5", 1000, 1000, 5, 0, "batch", "standard", null, At, "0.059")]
    // data residency multiplies tokens only: (1000*5 + 1000*25) * 1.1 = 33000 /1e6 = 0.033; 2 searches 0.02; 0.053
    [InlineData("claude-opus-4-6", 1000, 1000, 2, 0, "standard", "standard", "us", At, "0.053")]
    // fast mode multiplies tokens only: (1000*5 + 1000*25) * 6 = 180000 /1e6 = 0.18; 7 searches 0.07; 0.25
    [InlineData("claude-opus-4-6", 1000, 1000, 7, 0, "standard", "fast", null, At, "0.25")]
    // long context (search results made the prompt long): 200001*6 + 0*22.5 = 1200006 /1e6 = 1.200006; 10 searches 0.1; 1.300006
    [InlineData("claude-sonnet-4-5", 200001, 0, 10, 0, "standard", "standard", null, At, "1.300006")]
    // first instant of the web search price: 1 * 0.01 = 0.01
    [InlineData("claude-3-7-sonnet-20250219", 0, 0, 1, 0, "standard", "standard", null, "2025-05-07T00:00:00Z", "0.01")]
    // first instant of the web fetch price: 10*3 = 30 /1e6 = 0.00003; 1 fetch * 0 = 0
    [InlineData("claude-sonnet-4-0", 10, 0, 0, 1, "standard", "standard", null, "2025-09-10T00:00:00Z", "0.00003")]
    // Claude 5.x: Sonnet 5.5 $2 / $10 after 2026-10-07: 10000*2 + 2000*10 = 20000+20000 = 40000 /1e6 = 0.04; 25 searches 0.25; 0.29
    [InlineData("claude-sonnet-5-5", 10000, 2000, 25, 2, "standard", "standard", null, "2026-11-01T00:00:00Z", "0.29")]
    public void Server_tool_fees_match_hand_computation(
        string model,
        long input,
        long output,
        long webSearches,
        long webFetches,
        string tier,
        string speed,
        string? geo,
        string at,
        string expected)
    {
        var usage = new TokenUsage(
            input,
            output,
            ServiceTier: AnthropicUsage.ParseServiceTier(tier),
            Speed: AnthropicUsage.ParseSpeed(speed),
            InferenceGeo: geo,
            WebSearchRequests: webSearches,
            WebFetchRequests: webFetches);

        var cost = Book.Cost(model, usage, DateTimeOffset.Parse(at, CultureInfo.InvariantCulture));

        Assert.Equal(decimal.Parse(expected, CultureInfo.InvariantCulture), cost.Total);
    }

    [Fact]
    public void Server_tool_fees_are_their_own_component_of_the_breakdown()
    {
        // Haiku 4.5: 1000*1 = 0.001 input, 500*5 = 0.0025 output; 1000 searches * 0.01 = 10 in ServerTools.
        var cost = Book.Cost("claude-haiku-4-5", new TokenUsage(1000, 500, WebSearchRequests: 1000), Time(At));

        Assert.Equal(new CostBreakdown(0.001m, 0.0025m, 0m, 0m, 0m, 10m), cost);
        Assert.Equal(10.0035m, cost.Total);
        Assert.Equal(20.007m, (cost + cost).Total);
    }

    [Theory]
    // before web search existed (its price starts 2025-05-07) and before web fetch (2025-09-10)
    [InlineData(1, 0, "2025-05-06T23:59:59Z", "web_search_requests")]
    [InlineData(0, 1, "2025-09-09T23:59:59Z", "web_fetch_requests")]
    public void A_server_tool_without_a_price_in_force_is_an_error_not_free(long searches, long fetches, string at, string field)
    {
        var usage = new TokenUsage(10, 10, WebSearchRequests: searches, WebFetchRequests: fetches);

        var ex = Assert.Throws<PricingException>(() => Book.Cost("claude-3-7-sonnet-20250219", usage, Time(at)));

        Assert.Contains("server_tool_use." + field, ex.Message, StringComparison.Ordinal);
        Assert.Contains("prices.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Negative_server_tool_counts_are_rejected()
    {
        Assert.Throws<PricingException>(
            () => Book.Cost("claude-opus-4-6", new TokenUsage(10, 10, WebSearchRequests: -1), Time(At)));
    }

    [Fact]
    public void Breakdown_prices_each_token_class_separately()
    {
        // Sonnet 4.5, 100 in / 200 out / 1000 5m / 2000 1h / 3000 read:
        // input 100*3 = 300 -> 0.0003; output 200*15 = 3000 -> 0.003; 5m 1000*3.75 = 3750 -> 0.00375;
        // 1h 2000*6 = 12000 -> 0.012; read 3000*0.3 = 900 -> 0.0009
        var cost = Book.Cost("claude-sonnet-4-5", new TokenUsage(100, 200, 1000, 2000, 3000), Time(At));

        Assert.Equal(new CostBreakdown(0.0003m, 0.003m, 0.00375m, 0.012m, 0.0009m), cost);
    }

    [Fact]
    public void Long_context_breakdown_uses_multipliers_of_the_long_context_input_rate()
    {
        // total 1000+100000+50000+60000 = 211000 > 200000. input 1000*6 = 6000 -> 0.006; output 1000*22.5 = 22500
        // -> 0.0225; 5m 100000*7.5 (1.25*6) = 750000 -> 0.75; 1h 50000*12 (2*6) = 600000 -> 0.6;
        // read 60000*0.6 (0.1*6) = 36000 -> 0.036
        var cost = Book.Cost("claude-sonnet-4-5-20250929", new TokenUsage(1000, 1000, 100000, 50000, 60000), Time(At));

        Assert.Equal(new CostBreakdown(0.006m, 0.0225m, 0.75m, 0.6m, 0.036m), cost);
    }

    [Fact]
    public void Alias_and_dated_id_cost_the_same()
    {
        var usage = new TokenUsage(12345, 678, 910, 1112, 1314);
        foreach (var (alias, dated) in new[]
                 {
                     ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"),
                     ("claude-haiku-4-5", "claude-haiku-4-5-20251001"),
                     ("claude-opus-4-5", "claude-opus-4-5-20251101"),
                 })
        {
            Assert.Equal(Book.Cost(dated, usage, Time(At)), Book.Cost(alias, usage, Time(At)));
            Assert.Equal(dated, Book.ResolveId(alias));
        }
    }

    [Theory]
    [InlineData("claude-sonnet-4-5")]
    [InlineData("claude-opus-4-5")]
    [InlineData("claude-haiku-4-5")]
    public void Fast_mode_on_a_model_without_a_fast_price_throws(string model)
    {
        var usage = new TokenUsage(1000, 1000, Speed: Speed.Fast);

        var ex = Assert.Throws<PricingException>(() => Book.Cost(model, usage, Time(At)));

        Assert.Contains(model, ex.Message, StringComparison.Ordinal);
        Assert.Contains("fastMultiplier", ex.Message, StringComparison.Ordinal);
        Assert.Contains("prices.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_model_throws_naming_the_model_and_the_file()
    {
        var ex = Assert.Throws<UnknownModelException>(
            () => Book.Cost("claude-imaginary-9", new TokenUsage(1, 1), Time(At)));

        Assert.Contains("claude-imaginary-9", ex.Message, StringComparison.Ordinal);
        Assert.Contains("prices.json (embedded default) — set ModelMix:Prices to a price book file of your own", ex.Message, StringComparison.Ordinal);
        Assert.Equal("claude-imaginary-9", ex.Model);
    }

    [Fact]
    public void Known_model_before_its_first_period_throws()
    {
        // Opus 4.6 was released 2026-02-05; nothing is priced before that.
        var ex = Assert.Throws<UnknownModelException>(
            () => Book.Cost("claude-opus-4-6", new TokenUsage(1, 1), Time("2026-01-01T00:00:00Z")));

        Assert.Contains("claude-opus-4-6", ex.Message, StringComparison.Ordinal);
        Assert.Contains("prices.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_known_model_outside_its_periods_names_each_period_and_the_instant()
    {
        // Sonnet 5.5 has two periods: 2026-09-28 to 2026-10-07 (reads $0.20), then open (reads $0.10).
        var ex = Assert.Throws<UnknownModelException>(
            () => Book.Cost("claude-sonnet-5-5", new TokenUsage(1, 1), Time("2026-01-01T00:00:00Z")));

        Assert.Contains(
            "Model 'claude-sonnet-5-5' (price book id 'claude-sonnet-5-5') has no price in force at 2026-01-01T00:00:00.0000000+00:00; " +
            "its periods are [2026-09-28T00:00:00.0000000+00:00, 2026-10-07T00:00:00.0000000+00:00), [2026-10-07T00:00:00.0000000+00:00, open). " +
            "Add a price period covering that instant to the price book file: prices.json (embedded default)",
            ex.Message,
            StringComparison.Ordinal);
        Assert.Equal(("claude-sonnet-5-5", Book.SourceName), (ex.Model, ex.SourceName));
    }

    [Fact]
    public void Unknown_inference_geo_throws_instead_of_guessing()
    {
        var usage = new TokenUsage(1000, 1000, InferenceGeo: "mars");

        var ex = Assert.Throws<PricingException>(() => Book.Cost("claude-opus-4-6", usage, Time(At)));

        Assert.Contains("Model 'claude-opus-4-6' reports inference_geo 'mars', which has no data-residency multiplier. Add it under modifiers.inferenceGeo", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1, 0, 0, 0, 0)]
    [InlineData(0, -1, 0, 0, 0)]
    [InlineData(0, 0, -1, 0, 0)]
    [InlineData(0, 0, 0, -1, 0)]
    [InlineData(0, 0, 0, 0, -1)]
    public void Negative_token_counts_are_rejected(long input, long output, long write5m, long write1h, long read)
    {
        var ex = Assert.Throws<PricingException>(
            () => Book.Cost("claude-opus-4-6", new TokenUsage(input, output, write5m, write1h, read), Time(At)));

        Assert.Equal("Token and server-tool counts for model 'claude-opus-4-6' must not be negative.", ex.Message);
    }

    [Fact]
    public void Zero_usage_costs_zero()
    {
        Assert.Equal(CostBreakdown.Zero, Book.Cost("claude-opus-4-6", default, Time(At)));
    }

    [Fact]
    public void Cost_does_not_allocate()
    {
        var book = PriceBook.Default;
        var plain = new TokenUsage(1000, 500);
        var everything = new TokenUsage(50000, 10000, 50000, 50000, 60000, ServiceTier.Batch, Speed.Fast, "us", WebSearchRequests: 12, WebFetchRequests: 3);
        var at = Time("2026-02-20T00:00:00Z");
        var sink = 0m;
        for (var i = 0; i < 100; i++)
        {
            sink += book.Cost("claude-sonnet-4-5", plain, at).Total + book.Cost("claude-opus-4-6", everything, at).Total;
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            sink += book.Cost("claude-sonnet-4-5", plain, at).Total + book.Cost("claude-opus-4-6", everything, at).Total;
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(sink > 0);
    }

    private static DateTimeOffset Time(string iso) => DateTimeOffset.Parse(iso, CultureInfo.InvariantCulture);
}
