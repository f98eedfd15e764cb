using System.Text;
using ModelMix.Budgets;
using ModelMix.Pricing;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// <see cref="BudgetEstimator"/> where <c>BudgetMathTests</c> did not look (docs/testing.md "Eleventh session"): a fast-mode
/// body, names spelled with JSON escapes (the API reads them as the plain names, so the quick pre-checks for
/// <c>"tools"</c> and <c>"source"</c> must not skip them), and tool fields of the wrong JSON kind (ignored, never an
/// exception). Money worked by hand in the comments: every body is padded to 800 bytes = 200 input tokens, and 1000
/// tokens of output are allowed.
/// </summary>
public sealed class BudgetEstimatorSurvivorTests
{
    private static readonly DateTimeOffset At = new(2026, 3, 14, 15, 9, 26, TimeSpan.Zero);

    [Fact]
    public void A_fast_mode_body_is_held_at_the_fast_multiplier_and_only_a_fast_mode_body()
    {
        // A model at $1 / $5 per MTok whose fast mode costs 6×.
        var book = PriceBook.Parse(
            """{"replaceDefaults":true,"models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","input":1,"output":5,"fastMultiplier":6}]}]}""",
            "fast.json");

        // (200*1 + 1000*5) / 1e6 = 0.0052; × 6 = 0.0312 with "speed".
        Assert.Equal(0.0312m, BudgetEstimator.WorstCaseUsd(book, "m", Padded("""{"speed":"fast","x":"""), 1000, At));
        Assert.Equal(0.0052m, BudgetEstimator.WorstCaseUsd(book, "m", Padded("""{"x":"""), 1000, At));
    }

    [Fact]
    public void A_tools_key_spelled_with_an_escape_is_still_held()
    {
        // "\u0074ools" is "tools" to the API: Haiku 4.5, 0.0052 + 5 searches × $0.01 = 0.0552.
        var body = Padded("""{"\u0074ools":[{"type":"web_search_20260209","name":"web_search","max_uses":5}],"x":""");
        Assert.Equal(-1, body.AsSpan().IndexOf("tools"u8));

        Assert.Equal(0.0552m, BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-haiku-4-5", body, 1000, At));
    }

    [Fact]
    public void A_source_key_spelled_with_an_escape_is_still_counted()
    {
        // "\u0073ource" is "source" to the API: one URL image, 5,000 tokens.
        var body = Encoding.UTF8.GetBytes("""{"messages":[{"role":"user","content":[{"type":"image","\u0073ource":{"type":"url","url":"u"}}]}]}""");
        Assert.Equal(-1, body.AsSpan().IndexOf("source"u8));

        Assert.Equal(BudgetEstimator.ReferencedImageTokens, BudgetEstimator.ReferencedInputTokens(body));
    }

    [Theory]
    // Haiku 4.5 ($1 / $5 per MTok, web search $0.01 a search, web fetch $0): 0.0052 before any tool.
    // max_uses not a count (a string, a negative number): the 10 assumed uses, 0.0052 + 10 × 0.01 = 0.1052
    [InlineData("""[{"type":"web_search_20260209","name":"web_search","max_uses":"5"}]""", "0.1052")]
    [InlineData("""[{"type":"web_search_20260209","name":"web_search","max_uses":-1}]""", "0.1052")]
    // max_content_tokens not a count: the fetched content is not held, 0.0052
    [InlineData("""[{"type":"web_fetch_20260209","name":"web_fetch","max_uses":3,"max_content_tokens":"2000"}]""", "0.0052")]
    [InlineData("""[{"type":"web_fetch_20260209","name":"web_fetch","max_uses":3,"max_content_tokens":-1}]""", "0.0052")]
    // a type that is not a string names no server tool: 0.0052
    [InlineData("""[{"type":5,"name":"web_search","max_uses":5}]""", "0.0052")]
    // an entry that is not an object is skipped, the next one still held: 0.0052 + 5 × 0.01 = 0.0552
    [InlineData("""[1,{"type":"web_search_20260209","name":"web_search","max_uses":5}]""", "0.0552")]
    public void Tool_fields_of_the_wrong_kind_are_ignored(string tools, string expected)
    {
        var body = Padded("{\"tools\":" + tools + ",\"x\":");

        var cost = BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-haiku-4-5", body, 1000, At);

        Assert.Equal(decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), cost);
    }

    [Theory]
    // Haiku 4.5 as above: 0.0052 + 5 searches × $0.01 = 0.0552, whatever comes before "tools".
    // a string property first (its value is passed over, then the next property read)
    [InlineData("""{"model":"claude-haiku-4-5",""")]
    // an object property first (passed over whole: its inner names are not the body's)
    [InlineData("""{"metadata":{"user_id":"u","tools":[]},""")]
    // an array of tool-like objects under another name first (not tools: not held)
    [InlineData("""{"x_tools":[{"type":"web_search_20260209","name":"web_search","max_uses":5}],""")]
    public void Properties_before_tools_are_passed_over_and_the_tools_still_held(string head)
    {
        var body = Padded(head + "\"tools\":[{\"type\":\"web_search_20260209\",\"name\":\"web_search\",\"max_uses\":5}],\"x\":");

        Assert.Equal(0.0552m, BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-haiku-4-5", body, 1000, At));
    }

    /// <summary><paramref name="head"/> (ending in a property name and its colon) and a string value padding it to 800 bytes.</summary>
    private static byte[] Padded(string head)
    {
        var bytes = Encoding.UTF8.GetBytes(head + "\"" + new string('a', 800 - Encoding.UTF8.GetByteCount(head) - 3) + "\"}");
        Assert.Equal(800, bytes.Length);
        return bytes;
    }
}
