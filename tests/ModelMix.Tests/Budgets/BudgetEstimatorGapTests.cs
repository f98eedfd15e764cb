using System.Text;
using ModelMix.Budgets;
using ModelMix.Pricing;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// <see cref="BudgetEstimator"/>'s gaps left by the <c>budgets</c> mutation run (docs/testing.md, eleventh session, "Worth
/// tests"): nested values where a scalar usually stands, JSON of the wrong kind where an object or a string is read,
/// bodies nested deeper than the reader's default 64 levels, malformed JSON, the web-fetch content at a rate other than
/// $1 and under a multiplier, the unpriced server tool's message, and a modifier named at the body's very first byte.
/// Money worked by hand in the comments: bodies made with <see cref="Padded"/> are 800 bytes = 200 input tokens, and 1000
/// tokens of output are allowed; Haiku 4.5 is $1 / $5 per MTok and $0.01 a web search.
/// </summary>
public sealed class BudgetEstimatorGapTests
{
    private static readonly DateTimeOffset At = new(2026, 3, 14, 15, 9, 26, TimeSpan.Zero);

    [Theory]
    // an object before the tool's type, holding a "type" of its own (user_location): passed over whole, the tool's
    // own type still read: 200*1 + 1000*5 = 5200 /1e6 = 0.0052, + 5 searches × 0.01 = 0.0552
    [InlineData("""[{"user_location":{"type":"approximate","city":"Paris"},"type":"web_search_20260209","name":"web_search","max_uses":5}]""")]
    // an array before the tool's type (allowed_domains): the same 0.0552
    [InlineData("""[{"allowed_domains":["a.test","b.test"],"type":"web_search_20260209","name":"web_search","max_uses":5}]""")]
    public void A_nested_value_before_a_tools_type_is_passed_over_whole(string tools)
    {
        var body = Padded("{\"tools\":" + tools + ",\"x\":");

        Assert.Equal(0.0552m, BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-haiku-4-5", body, 1000, At));
    }

    [Fact]
    public void A_tools_entry_that_is_an_array_is_passed_over_whole_and_the_next_tool_held()
    {
        // The nested array holds a tool-like object (5 searches): not a tool, not held. The next entry is: 2 searches.
        // 0.0052 + 2 × 0.01 = 0.0252.
        var body = Padded(
            """{"tools":[[{"type":"web_search_20260209","name":"web_search","max_uses":5}],{"type":"web_search_20260209","name":"web_search","max_uses":2}],"x":""");

        Assert.Equal(0.0252m, BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-haiku-4-5", body, 1000, At));
    }

    [Theory]
    // a source that is a string, an array or a number: not a referenced source, nothing added (and no exception)
    [InlineData("""{"type":"image","source":"https://a.test/cat.png"}""", 0L)]
    [InlineData("""{"type":"image","source":["url","https://a.test/cat.png"]}""", 0L)]
    [InlineData("""{"type":"document","source":7}""", 0L)]
    // a source whose type is not a string: nothing added
    [InlineData("""{"type":"image","source":{"type":1,"url":"u"}}""", 0L)]
    // a block whose type is not a string but whose source is a URL: not an image, so held as a document,
    // 600 pages × 10,000 tokens = 6,000,000
    [InlineData("""{"type":5,"source":{"type":"url","url":"https://a.test/a.pdf"}}""", 6_000_000L)]
    [InlineData("""{"type":{"kind":"image"},"source":{"type":"file","file_id":"file_011"}}""", 6_000_000L)]
    public void Sources_and_block_types_of_the_wrong_kind_add_no_image(string block, long expected)
    {
        var body = Encoding.UTF8.GetBytes("""{"messages":[{"role":"user","content":[""" + block + "]}]}");

        Assert.Equal(expected, BudgetEstimator.ReferencedInputTokens(body));
    }

    [Fact]
    public void A_source_nested_deeper_than_64_levels_is_still_counted()
    {
        // 100 arrays inside the body's object, then the block and its source: 103 levels, past the reader's default
        // of 64 (the estimator allows 256). One URL image: 5,000 tokens.
        var body = Encoding.UTF8.GetBytes(
            """{"messages":""" + new string('[', 100) + """{"type":"image","source":{"type":"url","url":"u"}}""" + new string(']', 100) + "}");

        Assert.Equal(BudgetEstimator.ReferencedImageTokens, BudgetEstimator.ReferencedInputTokens(body));
    }

    [Fact]
    public void Tools_after_a_value_nested_deeper_than_64_levels_are_still_held()
    {
        // 100 nested arrays before "tools" (passed over by the reader), then 5 searches: 5 × $0.01 = 0.05.
        var body = Encoding.UTF8.GetBytes(
            """{"metadata":""" + new string('[', 100) + new string(']', 100)
            + ""","tools":[{"type":"web_search_20260209","name":"web_search","max_uses":5}]}""");

        Assert.Equal(0.05m, BudgetEstimator.ServerToolsWorstCaseUsd(PriceBook.Default, body, 1m, At));
    }

    [Fact]
    public void Malformed_json_is_no_exception()
    {
        // Cut short inside a referenced source: nothing counted (the proxy refuses such a body before it is sent).
        Assert.Equal(0, BudgetEstimator.ReferencedInputTokens("""{"messages":[{"type":"image","source":{"type":"url","""u8));
        // Cut short after one whole tool: the tool read before the break is held, 5 × $0.01 = 0.05.
        Assert.Equal(
            0.05m,
            BudgetEstimator.ServerToolsWorstCaseUsd(PriceBook.Default, """{"tools":[{"type":"web_search_20260209","max_uses":5},{"type":"web_se"""u8, 1m, At));
        // A body that is not an object declares no tools, even holding an object that would.
        Assert.Equal(
            0m,
            BudgetEstimator.ServerToolsWorstCaseUsd(PriceBook.Default, """["tools",{"tools":[{"type":"web_search_20260209","max_uses":5}]}]"""u8, 1m, At));
    }

    [Fact]
    public void Web_fetch_content_is_held_at_the_input_rate_with_its_multipliers_and_its_fee_without()
    {
        // A model at $3 / $15 per MTok, 6× in fast mode; batch 0.5×; web fetch $2 per 1,000 fetches = $0.002 a fetch.
        var book = PriceBook.Parse(
            """
            {"replaceDefaults":true,"modifiers":{"batchMultiplier":0.5},
             "serverTools":{"web_fetch_requests":{"periods":[{"effectiveFrom":"2025-01-01","perThousand":2}]}},
             "models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","input":3,"output":15,"fastMultiplier":6}]}]}
            """,
            "fetch.json");
        const string Fetch = "\"tools\":[{\"type\":\"web_fetch_20260209\",\"name\":\"web_fetch\",\"max_uses\":2,\"max_content_tokens\":1000}],";

        // Fast: tokens (200×3 + 1000×15) = 15,600 /1e6 = 0.0156, × 6 = 0.0936; fee 2 × 0.002 = 0.004 (no multiplier);
        // content 2 fetches × 1000 tokens at 3 × 6 = $18 per MTok = 36,000 /1e6 = 0.036. 0.0936 + 0.004 + 0.036 = 0.1336.
        Assert.Equal(0.1336m, BudgetEstimator.WorstCaseUsd(book, "m", Padded("{\"speed\":\"fast\"," + Fetch + "\"x\":"), 1000, At));

        // Batch: tokens 0.0156 × 0.5 = 0.0078; fee 0.004; content 2 × 1000 at 3 × 0.5 = $1.5 per MTok = 0.003. 0.0148.
        Assert.Equal(0.0148m, BudgetEstimator.WorstCaseUsd(book, "m", Padded("{" + Fetch + "\"x\":"), 1000, At, batch: true));
    }

    [Fact]
    public void A_declared_server_tool_the_book_cannot_price_is_refused_in_full()
    {
        var book = PriceBook.Parse(
            """{"replaceDefaults":true,"models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","input":1,"output":5}]}]}""",
            "no-server-tools.json");
        var body = Padded("""{"tools":[{"type":"web_fetch_20260209","name":"web_fetch","max_uses":1}],"x":""");

        var ex = Assert.Throws<PricingException>(() => BudgetEstimator.WorstCaseUsd(book, "m", body, 10, At));

        Assert.Equal(
            "The request declares the server tool 'web_fetch_20260209', whose uses (usage.server_tool_use.web_fetch_requests) "
            + "have no price in force at 2026-03-14T15:09:26.0000000+00:00 in the price book no-server-tools.json, so its worst "
            + "case cannot be held. Add a serverTools.web_fetch_requests price period.",
            ex.Message);
    }

    [Fact]
    public void A_modifier_named_at_the_bodys_first_byte_still_counts()
    {
        // The modifiers are found by a byte search, not a parse: a mention anywhere counts, the first byte included.
        // A model at $1 / $5 per MTok, 6× in fast mode, 1.5× in the "us" region; no output allowed (max_tokens 0).
        var book = PriceBook.Parse(
            """
            {"replaceDefaults":true,"modifiers":{"inferenceGeo":{"us":1.5}},
             "models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","input":1,"output":5,"fastMultiplier":6}]}]}
            """,
            "modifiers.json");

        // "speed" and a space: 8 bytes = 2 tokens × $1 = 2 /1e6, × 6 = 0.000012.
        Assert.Equal(0.000012m, BudgetEstimator.WorstCaseUsd(book, "m", "\"speed\" "u8, 0, At));
        // "inference_geo" and a space: 16 bytes = 4 tokens × $1 = 4 /1e6, × 1.5 = 0.000006.
        Assert.Equal(0.000006m, BudgetEstimator.WorstCaseUsd(book, "m", "\"inference_geo\" "u8, 0, At));
        // "cache_control" and a space on Haiku 4.5: 4 tokens at the dearest cache write, 1 h at 2× $1 = $2: 0.000008.
        Assert.Equal(0.000008m, BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-haiku-4-5", "\"cache_control\" "u8, 0, At));
    }

    /// <summary><paramref name="head"/> (ending in a property name and its colon) and a string value padding it to 800 bytes.</summary>
    private static byte[] Padded(string head)
    {
        var bytes = Encoding.UTF8.GetBytes(head + "\"" + new string('a', 800 - Encoding.UTF8.GetByteCount(head) - 3) + "\"}");
        Assert.Equal(800, bytes.Length);
        return bytes;
    }
}
