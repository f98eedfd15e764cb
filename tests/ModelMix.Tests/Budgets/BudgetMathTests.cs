using System.Text;
using ModelMix.Budgets;
using ModelMix.Pricing;

namespace ModelMix.Tests.Budgets;

public sealed class BudgetMathTests
{
    private static readonly DateTimeOffset At = new(2026, 3, 14, 15, 9, 26, TimeSpan.Zero);

    [Fact]
    public void Day_window_is_the_utc_calendar_day()
    {
        var local = new DateTimeOffset(2026, 3, 15, 1, 0, 0, TimeSpan.FromHours(5)); // 2026-03-14T20:00Z

        Assert.Equal(new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), BudgetPeriods.Start(BudgetWindow.Day, local));
        Assert.Equal(new DateTimeOffset(2026, 3, 15, 0, 0, 0, TimeSpan.Zero), BudgetPeriods.End(BudgetWindow.Day, local));
    }

    [Fact]
    public void Month_window_rolls_over_the_year()
    {
        var december = new DateTimeOffset(2026, 12, 31, 23, 59, 59, TimeSpan.Zero);

        Assert.Equal(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero), BudgetPeriods.Start(BudgetWindow.Month, december));
        Assert.Equal(new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero), BudgetPeriods.End(BudgetWindow.Month, december));
    }

    [Fact]
    public void Total_window_never_resets()
    {
        Assert.Equal(DateTimeOffset.UnixEpoch, BudgetPeriods.Start(BudgetWindow.Total, At));
        Assert.Null(BudgetPeriods.End(BudgetWindow.Total, At));
    }

    [Theory]
    [InlineData("50/day", BudgetWindow.Day, "50")]
    [InlineData("$500/month", BudgetWindow.Month, "500")]
    [InlineData("2000/total", BudgetWindow.Total, "2000")]
    [InlineData("0.25 / Daily", BudgetWindow.Day, "0.25")]
    public void Budget_caps_parse(string text, BudgetWindow window, string amount)
    {
        var cap = BudgetCap.Parse(text);

        Assert.Equal(window, cap.Window);
        Assert.Equal(decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture), cap.AmountUsd);
    }

    [Theory]
    [InlineData("50")]
    [InlineData("-5/day")]
    [InlineData("0/day")]
    [InlineData("50/week")]
    [InlineData("fifty/day")]
    [InlineData("1,5/day")]
    public void Bad_budget_caps_are_refused_with_a_reason(string text)
    {
        Assert.False(BudgetCap.TryParse(text, out _, out var error));
        Assert.Contains(text.Split('/')[0].Trim(), error, StringComparison.Ordinal);
    }

    [Fact]
    public void Charges_round_up_and_caps_round_down_to_the_nano_dollar()
    {
        Assert.Equal(1, BudgetMoney.ToNanos(0.0000000001m));
        Assert.Equal(184_000, BudgetMoney.ToNanos(0.000184m));
        Assert.Equal(0, BudgetMoney.CapToNanos(0.0000000009m));
        Assert.Equal(50_000_000_000, BudgetMoney.CapToNanos(50m));
        Assert.Equal(0.000184m, BudgetMoney.ToUsd(184_000));
    }

    [Fact]
    public void Worst_case_is_estimated_input_plus_max_tokens_of_output()
    {
        var body = Body(400, cacheControl: false);

        // Haiku 4.5 at $1 / $5 per MTok: 400 bytes ≈ 100 input tokens, plus 1000 output tokens.
        var cost = BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-haiku-4-5", body, 1000, At);

        Assert.Equal((100m * 1m + 1000m * 5m) / 1_000_000m, cost);
    }

    [Fact]
    public void Worst_case_of_a_prompt_rounds_its_bytes_up_to_whole_tokens()
    {
        // Haiku 4.5 at $1 / $5 per MTok: 401 bytes ≈ 101 input tokens (rounded up), plus 200 output tokens.
        var cost = BudgetEstimator.PromptWorstCaseUsd(PriceBook.Default, "claude-haiku-4-5", 401, 200, At);

        Assert.Equal((101m * 1m + 200m * 5m) / 1_000_000m, cost);
    }

    // Mutation testing (docs/testing.md): on Haiku's $1 input and a 401-byte prompt, rounding the tokens the wrong way
    // or dividing by the input rate gave the same figure.
    [Fact]
    public void Worst_case_of_a_prompt_of_whole_tokens_adds_none_and_multiplies_by_the_rate()
    {
        // Sonnet 4.5 at $3 / $15 per MTok: 400 bytes = 100 tokens exactly; 100 × 3 + 200 × 15 = 3300 / 1e6 = 0.0033.
        Assert.Equal(0.0033m, BudgetEstimator.PromptWorstCaseUsd(PriceBook.Default, "claude-sonnet-4-5", 400, 200, At));
    }

    [Fact]
    public void Worst_case_of_a_body_naming_an_inference_geo_takes_the_dearest_geo()
    {
        // 81 bytes → ⌈81 / 4⌉ = 21 tokens. Sonnet 4.5: 21 × 3 + 100 × 15 = 1563 / 1e6 = 0.001563, × 1.1 (us, the dearest
        // default geo) = 0.0017193.
        var body = """{"model":"claude-sonnet-4-5","max_tokens":100,"inference_geo":"us","messages":[]}"""u8.ToArray();

        Assert.Equal(81, body.Length);
        Assert.Equal(0.0017193m, BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-sonnet-4-5", body, 100, At));
    }

    [Fact]
    public void Negative_amounts_count_as_zero_and_amounts_print_in_cents_from_a_dollar()
    {
        Assert.Equal(0, BudgetMoney.ToNanos(-0.5m));
        Assert.Equal(0, BudgetMoney.CapToNanos(-1m));
        Assert.Equal("$1.00", BudgetMoney.Format(1m));
        Assert.Equal("$12.50", BudgetMoney.Format(12.5m));
        Assert.Equal("$0.50", BudgetMoney.Format(0.5m));
        Assert.Equal("$0.000184", BudgetMoney.Format(0.000184m));
    }

    [Fact]
    public void Worst_case_with_cache_control_prices_input_as_a_one_hour_cache_write()
    {
        var body = Body(400, cacheControl: true);

        var cost = BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-haiku-4-5", body, 1000, At);

        Assert.Equal((100m * 2m + 1000m * 5m) / 1_000_000m, cost);
    }

    [Fact]
    public void Worst_case_uses_long_context_rates_past_the_threshold()
    {
        var small = Body(800_000, cacheControl: false); // 200,000 tokens: not past the threshold
        var large = Body(800_004, cacheControl: false); // 200,001 tokens

        var standard = BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-sonnet-4-5", small, 1000, At);
        var longContext = BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-sonnet-4-5", large, 1000, At);

        Assert.Equal((200_000m * 3m + 1000m * 15m) / 1_000_000m, standard);
        Assert.Equal((200_001m * 6m + 1000m * 22.5m) / 1_000_000m, longContext);
    }

    [Fact]
    public void Worst_case_of_an_unknown_model_is_an_error_not_zero()
    {
        Assert.Throws<UnknownModelException>(() => BudgetEstimator.WorstCaseUsd(PriceBook.Default, "no-such-model", Body(100, false), 10, At));
    }

    [Theory]
    // Haiku 4.5 at $1 / $5 per MTok; every body is padded to 800 bytes = 200 input tokens, plus 1000 output tokens:
    // 200*1 + 1000*5 = 5200 /1e6 = 0.0052 before any server tool. Web search is $0.01 a search, web fetch $0.
    // web search with max_uses 5: 0.0052 + 5*0.01 = 0.0552
    [InlineData("""[{"type":"web_search_20260209","name":"web_search","max_uses":5}]""", "0.0552")]
    // without max_uses the hold assumes AssumedUsesWithoutMaxUses (10): 0.0052 + 10*0.01 = 0.1052
    [InlineData("""[{"type":"web_search_20250305","name":"web_search"}]""", "0.1052")]
    // max_uses 0 holds nothing for the tool: 0.0052
    [InlineData("""[{"type":"web_search_20260209","name":"web_search","max_uses":0}]""", "0.0052")]
    // web fetch: no fee, but 3 fetches of at most 2000 tokens each are input: 3*2000*1 = 6000 /1e6 = 0.006; 0.0112
    [InlineData("""[{"name":"web_fetch","max_content_tokens":2000,"max_uses":3,"type":"web_fetch_20250910","allowed_domains":["a.test"]}]""", "0.0112")]
    // web fetch without max_content_tokens: no fee, no bound on its content (not held): 0.0052
    [InlineData("""[{"type":"web_fetch_20260209","name":"web_fetch","max_uses":3}]""", "0.0052")]
    // both, next to a client tool: 0.0052 + 2*0.01 + (1*100*1 = 100 /1e6 = 0.0001) = 0.0253
    [InlineData("""[{"name":"get_weather","input_schema":{"type":"object","properties":{"type":{"type":"string"}}}},{"type":"web_search_20260209","name":"web_search","max_uses":2},{"type":"web_fetch_20260209","name":"web_fetch","max_uses":1,"max_content_tokens":100}]""", "0.0253")]
    // the type spelled with a JSON escape is the same tool to the API, so it is held the same: 0.0052 + 5*0.01 = 0.0552
    [InlineData("""[{"type":"\u0077eb_search_20260209","name":"web_search","max_uses":5}]""", "0.0552")]
    // a code execution tool has no per-use price (container time is billed to the organization): 0.0052
    [InlineData("""[{"type":"code_execution_20250825","name":"code_execution"}]""", "0.0052")]
    public void Worst_case_holds_declared_server_tools(string tools, string expected)
    {
        var body = BodyWithTools(tools, 800);

        var cost = BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-haiku-4-5", body, 1000, At);

        Assert.Equal(decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), cost);
    }

    [Fact]
    public void A_batch_worst_case_discounts_tokens_but_not_search_fees()
    {
        // 800 bytes = 200 tokens: (200*1 + 1000*5) * 0.5 = 2600 /1e6 = 0.0026; 5 searches * 0.01 = 0.05 (no discount); 0.0526.
        var body = BodyWithTools("""[{"type":"web_search_20260209","name":"web_search","max_uses":5}]""", 800);

        Assert.Equal(0.0526m, BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-haiku-4-5", body, 1000, At, batch: true));
    }

    [Fact]
    public void A_server_tool_named_only_in_the_prompt_is_not_held()
    {
        // "web_search_20260209" inside a message is text, not a declared tool: 800 bytes = 200 tokens, 200*1 + 1000*5 = 0.0052.
        var json = """{"messages":[{"role":"user","content":"what is web_search_20260209 with tools and max_uses 5?"}],"x":""";
        var body = Encoding.UTF8.GetBytes(json + "\"" + new string('a', 800 - json.Length - 3) + "\"}");
        Assert.Equal(800, body.Length);

        Assert.Equal(0.0052m, BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-haiku-4-5", body, 1000, At));
    }

    [Fact]
    public void A_declared_server_tool_the_book_cannot_price_is_an_error_not_zero()
    {
        var book = PriceBook.Parse(
            """{"replaceDefaults":true,"models":[{"id":"m","periods":[{"effectiveFrom":"2025-01-01","input":1,"output":5}]}]}""",
            "no-server-tools.json");
        var body = BodyWithTools("""[{"type":"web_search_20260209","name":"web_search","max_uses":1}]""", 800);

        var ex = Assert.Throws<PricingException>(() => BudgetEstimator.WorstCaseUsd(book, "m", body, 10, At));

        Assert.Contains("web_search_requests", ex.Message, StringComparison.Ordinal);
        Assert.Contains("no-server-tools.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refusal_names_the_budget_the_amounts_and_the_reset()
    {
        var limit = new BudgetLimit("key:abc", "key 'team-a'", BudgetWindow.Day, 50m);
        var refusal = new BudgetRefusal(limit, 49.5m, 0.25m, 0.5m, new DateTimeOffset(2026, 3, 15, 0, 0, 0, TimeSpan.Zero));

        Assert.Equal(
            "Budget exceeded: the daily budget of key 'team-a' is $50.00; $49.50 is spent and $0.25 is held by requests in flight, " +
            "and this request may cost up to $0.50 (its input plus max_tokens of output). It resets at 2026-03-15T00:00:00Z.",
            refusal.Message);

        // Nothing held and a total budget: no "held" clause (mutation testing: `> 0` → `>= 0` survived), no reset.
        var total = new BudgetRefusal(limit with { Window = BudgetWindow.Total }, 49.5m, 0m, 0.5m, null);
        Assert.Equal(
            "Budget exceeded: the total budget of key 'team-a' is $50.00; $49.50 is spent, " +
            "and this request may cost up to $0.50 (its input plus max_tokens of output). It does not reset; lower max_tokens, or ask an admin to raise the budget.",
            total.Message);
    }

    [Theory]
    // Haiku 4.5 at $1 / $5 per MTok, context window 200,000 tokens; every body is padded to 800 bytes = 200 input
    // tokens, plus 1000 output tokens: 200*1 + 1000*5 = 5200 /1e6 = 0.0052 before anything referenced.
    // an image from a URL: 5,000 tokens more: (200 + 5000)*1 + 1000*5 = 10200 /1e6 = 0.0102
    [InlineData("""[{"type":"image","source":{"type":"url","url":"https://a.test/cat.png"}},{"type":"text","text":"what is it?"}]""", "0.0102")]
    // an image from the Files API, source first: the same 0.0102
    [InlineData("""[{"source":{"file_id":"file_011","type":"file"},"type":"image"}]""", "0.0102")]
    // two referenced images: (200 + 2*5000)*1 + 5000 = 15200 /1e6 = 0.0152
    [InlineData("""[{"type":"image","source":{"type":"url","url":"https://a.test/1.png"}},{"type":"image","source":{"type":"file","file_id":"file_2"}}]""", "0.0152")]
    // an inline (base64) image is in the body already: 0.0052
    [InlineData("""[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]""", "0.0052")]
    // a PDF from a URL: 600 pages * 10,000 tokens = 6,000,000 more, capped at the 200,000-token context window:
    // 200000*1 + 1000*5 = 205000 /1e6 = 0.205
    [InlineData("""[{"type":"document","source":{"type":"url","url":"https://a.test/report.pdf"}}]""", "0.205")]
    // a Files API document inside a tool result: the same 0.205
    [InlineData("""[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"document","source":{"type":"file","file_id":"file_3"}}]}]""", "0.205")]
    // a plain-text document is in the body already: 0.0052
    [InlineData("""[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"hello"}}]""", "0.0052")]
    // "source" and "url" in the prompt's text are not a block: 0.0052
    [InlineData("""[{"type":"text","text":"a source of type url: https://a.test/x.pdf"}]""", "0.0052")]
    public void Worst_case_holds_images_and_documents_the_upstream_loads_itself(string content, string expected)
    {
        var body = BodyWithContent(content, 800);

        var cost = BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-haiku-4-5", body, 1000, At);

        Assert.Equal(decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), cost);
    }

    [Fact]
    public void A_batch_worst_case_discounts_referenced_input_like_any_token()
    {
        // 800 bytes = 200 tokens + one URL image (5,000): ((200 + 5000)*1 + 1000*5) * 0.5 = 5100 /1e6 = 0.0051.
        var body = BodyWithContent("""[{"type":"image","source":{"type":"url","url":"https://a.test/cat.png"}}]""", 800);

        Assert.Equal(0.0051m, BudgetEstimator.WorstCaseUsd(PriceBook.Default, "claude-haiku-4-5", body, 1000, At, batch: true));
    }

    [Fact]
    public void Referenced_input_is_counted_per_block_wherever_it_is()
    {
        var json = """{"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"u"}}]},{"role":"user","content":[{"type":"tool_result","content":[{"type":"image","source":{"type":"file","file_id":"f"}},{"type":"document","source":{"type":"url","url":"d"}}]}]}]}""";

        // 2 images * 5,000 + 1 document * 600 pages * 10,000 = 6,010,000
        Assert.Equal(6_010_000L, BudgetEstimator.ReferencedInputTokens(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(0L, BudgetEstimator.ReferencedInputTokens("""{"messages":[{"role":"user","content":"hi"}]}"""u8));
    }

    private static byte[] BodyWithContent(string content, int length)
    {
        var head = "{\"messages\":[{\"role\":\"user\",\"content\":" + content + "}],\"x\":\"";
        var bytes = Encoding.UTF8.GetBytes(head + new string('a', length - Encoding.UTF8.GetByteCount(head) - 2) + "\"}");
        Assert.Equal(length, bytes.Length);
        return bytes;
    }

    private static byte[] BodyWithTools(string tools, int length)
    {
        var head = "{\"tools\":" + tools + ",\"x\":\"";
        var bytes = Encoding.UTF8.GetBytes(head + new string('a', length - Encoding.UTF8.GetByteCount(head) - 2) + "\"}");
        Assert.Equal(length, bytes.Length);
        return bytes;
    }

    private static byte[] Body(int length, bool cacheControl)
    {
        var head = cacheControl ? "{\"cache_control\":1,\"x\":\"" : "{\"x\":\"";
        var text = head + new string('a', length - head.Length - 2) + "\"}";
        var bytes = Encoding.UTF8.GetBytes(text);
        Assert.Equal(length, bytes.Length);
        return bytes;
    }
}
