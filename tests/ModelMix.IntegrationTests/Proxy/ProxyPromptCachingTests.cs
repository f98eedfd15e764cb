using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using FakeAnthropic;
using ModelMix.Caching;
using ModelMix.IntegrationTests.Support;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// Automatic prompt caching at the proxy, end to end against FakeAnthropic's cache simulator: breakpoints on the
/// forwarded bytes for the routed model, exact ledger prices of the writes and reads (buffered and streamed), the
/// per-model minimum, the caller's own breakpoints, cache-aware routing and the unexpected-miss metric.
/// </summary>
public sealed class ProxyPromptCachingTests
{
    private const string Sonnet45 = "claude-sonnet-4-5-20250929";
    private const string Haiku45 = "claude-haiku-4-5-20251001";

    // ~6,300 characters: ~1,800 tokens by the planner's estimate, ~1,600 by the fake's count.
    private static readonly string LongSystem = string.Concat(Enumerable.Range(0, 90).Select(i => $"Rule {i}: answer support tickets politely and cite the policy. "));

    /// <summary>A real-shaped agent request: two tools, a long system prompt, three turns (user, assistant, user).</summary>
    private static JsonObject AgentRequest(string model, bool stream = false, long maxTokens = 256, string system = "", string lastUser = "And the refund policy?") => new()
    {
        ["model"] = model,
        ["max_tokens"] = maxTokens,
        ["stream"] = stream,
        ["tools"] = new JsonArray(
            new JsonObject { ["name"] = "lookup_order", ["description"] = "Find an order by id.", ["input_schema"] = new JsonObject { ["type"] = "object", ["properties"] = new JsonObject { ["id"] = new JsonObject { ["type"] = "string" } } } },
            new JsonObject { ["name"] = "refund", ["description"] = "Refund an order.", ["input_schema"] = new JsonObject { ["type"] = "object", ["properties"] = new JsonObject { ["id"] = new JsonObject { ["type"] = "string" } } } }),
        ["system"] = system.Length > 0 ? system : LongSystem,
        ["messages"] = new JsonArray(
            new JsonObject { ["role"] = "user", ["content"] = "Where is order 42?" },
            new JsonObject { ["role"] = "assistant", ["content"] = "It shipped yesterday." },
            new JsonObject { ["role"] = "user", ["content"] = lastUser }),
    };

    private static async Task<HttpResponseMessage> PostAsync(ProxyHarness harness, JsonObject body, string? session = null, string? task = null)
    {
        using var http = harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        if (session is not null)
        {
            request.Headers.Add("x-modelmix-session", session);
        }

        if (task is not null)
        {
            request.Headers.Add("x-modelmix-task", task);
        }

        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    private static async Task<ProxyHarness> StartAsync(Action<Dictionary<string, string?>>? configure = null)
    {
        var harness = await ProxyHarness.StartAsync(configure);
        harness.Fake.PromptCache = new PromptCacheSimulator();
        return harness;
    }

    private static int CountOf(string text, string what) => (text.Length - text.Replace(what, string.Empty, StringComparison.Ordinal).Length) / what.Length;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Breakpoints_go_on_the_system_prompt_and_the_earlier_turn_and_the_ledger_prices_the_write_then_the_read(bool stream)
    {
        await using var harness = await StartAsync();

        using (var first = await PostAsync(harness, AgentRequest(Sonnet45, stream)))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using (var second = await PostAsync(harness, AgentRequest(Sonnet45, stream)))
        {
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        }

        var sent = harness.Fake.MessageRequests[0].Json!.AsObject();
        // The tools alone are far below the 1,024-token minimum, so they get no breakpoint of their own.
        Assert.Null(sent["tools"]![1]!["cache_control"]);
        Assert.Equal(LongSystem, sent["system"]![0]!["text"]!.GetValue<string>());
        Assert.Equal("ephemeral", sent["system"]![0]!["cache_control"]!["type"]!.GetValue<string>());
        Assert.NotNull(sent["messages"]![0]!["content"]![0]!["cache_control"]); // the second-to-last user turn
        Assert.Equal("And the refund policy?", sent["messages"]![2]!["content"]!.GetValue<string>()); // the new turn untouched
        Assert.Equal(2, CountOf(harness.Fake.MessageRequests[0].Body, "\"cache_control\""));

        var records = (await harness.ReadLedgerAsync()).OrderBy(r => r.Timestamp).ToList();
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.Equal(stream, r.Streaming));
        var write = records[0];
        var read = records[1];
        Assert.True(write.Usage.CacheWrite5mTokens > 1024, $"write {write.Usage}");
        Assert.Equal(0, write.Usage.CacheReadTokens);
        Assert.Equal(write.Usage.CacheWrite5mTokens, read.Usage.CacheReadTokens);
        Assert.Equal(0, read.Usage.CacheWrite5mTokens + read.Usage.CacheWrite1hTokens);

        // Sonnet 4.5: input $3/MTok, 5-minute writes 1.25× = $3.75/MTok, reads 0.1× = $0.30/MTok, output $15/MTok.
        Assert.Equal(write.Usage.CacheWrite5mTokens * 3.75m / 1_000_000m, write.Cost!.Value.CacheWrite5m);
        Assert.Equal(write.Usage.InputTokens * 3m / 1_000_000m, write.Cost!.Value.Input);
        Assert.Equal(read.Usage.CacheReadTokens * 0.30m / 1_000_000m, read.Cost!.Value.CacheRead);
        Assert.Equal(read.Usage.InputTokens * 3m / 1_000_000m, read.Cost!.Value.Input);
        Assert.Equal(25 * 15m / 1_000_000m, read.Cost!.Value.Output);
        Assert.True(read.Cost!.Value.Total < write.Cost!.Value.Total);
    }

    [Fact]
    public async Task A_blank_string_system_or_turn_is_not_wrapped_into_a_marked_text_block()
    {
        // The API refuses an empty or lone whitespace-only text block, so the planner leaves such strings as they are;
        // the long tool definition before them still gets its breakpoint (one core: the same rule as the library door).
        await using var harness = await StartAsync();
        var body = AgentRequest(Sonnet45);
        body["system"] = " \n";
        body["tools"]![1]!["description"] = LongSystem;
        body["messages"]![0]!["content"] = " ";

        using var response = await PostAsync(harness, body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = harness.Fake.MessageRequests[0].Json!.AsObject();
        Assert.Equal(" \n", sent["system"]!.GetValue<string>());
        Assert.Equal(" ", sent["messages"]![0]!["content"]!.GetValue<string>());
        Assert.Equal("ephemeral", sent["tools"]![1]!["cache_control"]!["type"]!.GetValue<string>());
        Assert.Equal(1, CountOf(harness.Fake.MessageRequests[0].Body, "\"cache_control\""));
    }

    [Fact]
    public async Task A_prefix_below_the_routed_models_minimum_gets_no_breakpoints()
    {
        await using var harness = await StartAsync();

        using var haiku = await PostAsync(harness, AgentRequest(Haiku45));    // ~1,800 estimated tokens < 4,096
        using var sonnet = await PostAsync(harness, AgentRequest(Sonnet45));  // ≥ 1,024

        Assert.DoesNotContain("cache_control", harness.Fake.MessageRequests[0].Body, StringComparison.Ordinal);
        Assert.Contains("cache_control", harness.Fake.MessageRequests[1].Body, StringComparison.Ordinal);
        var records = (await harness.ReadLedgerAsync()).OrderBy(r => r.Timestamp).ToList();
        Assert.Equal(0, records[0].Usage.CacheWrite5mTokens + records[0].Usage.CacheReadTokens);
    }

    [Fact]
    public async Task The_callers_breakpoints_are_kept_and_never_duplicated()
    {
        await using var harness = await StartAsync();
        var body = AgentRequest(Sonnet45);
        body["system"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = LongSystem, ["cache_control"] = new JsonObject { ["type"] = "ephemeral", ["ttl"] = "1h" } });

        using var response = await PostAsync(harness, body);

        var sent = harness.Fake.MessageRequests[0].Json!;
        Assert.Equal("1h", sent["system"]![0]!["cache_control"]!["ttl"]!.GetValue<string>());
        // The caller's 1h breakpoint stays; the tools before it cannot get a 5m one (1h must come first); the turn after it can.
        Assert.Null(sent["tools"]![1]!["cache_control"]);
        Assert.NotNull(sent["messages"]![0]!["content"]![0]!["cache_control"]);
        Assert.Equal(2, CountOf(harness.Fake.MessageRequests[0].Body, "\"cache_control\""));
        var record = Assert.Single(await harness.ReadLedgerAsync());
        Assert.True(record.Usage.CacheWrite1hTokens > 0);
        Assert.Equal(record.Usage.CacheWrite1hTokens * 6m / 1_000_000m, record.Cost!.Value.CacheWrite1h); // 2× input
    }

    [Fact]
    public async Task Caching_can_be_switched_off()
    {
        await using var harness = await StartAsync(s => s["ModelMix:Caching:Enabled"] = "false");

        using var response = await PostAsync(harness, AgentRequest(Sonnet45));

        Assert.DoesNotContain("cache_control", harness.Fake.MessageRequests[0].Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Breakpoints_that_cache_nothing_count_as_unexpected_misses_and_are_logged_once_per_prefix()
    {
        await using var harness = await StartAsync();
        // The caller marks a short system prompt: far below Sonnet 4.5's 1,024-token minimum, so the API caches nothing.
        var body = AgentRequest(Sonnet45, system: "x");
        body["system"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = "You are terse.", ["cache_control"] = new JsonObject { ["type"] = "ephemeral" } });

        using (await PostAsync(harness, body))
        {
        }

        using (await PostAsync(harness, body))
        {
        }

        using var http = harness.Http();
        var metrics = await http.GetStringAsync("metrics");
        var line = metrics.Split('\n').Single(l => l.StartsWith("modelmix_cache_miss_unexpected_total{", StringComparison.Ordinal));
        Assert.Contains(Sonnet45, line, StringComparison.Ordinal);
        Assert.Equal("2", line[(line.LastIndexOf('}') + 2)..].Split(' ')[0]);
        Assert.Single(harness.Logs.Lines, l => l.Contains("Prompt caching did nothing", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_cache_warm_session_stays_unless_switching_pays_and_the_reason_says_so()
    {
        await using var harness = await StartAsync(s =>
        {
            // The stay-or-switch arithmetic below is on the 4.x tier models (their prices and minimum cacheable prefixes).
            TestPrices.Use4xTiers(s);
            s["ModelMix:Aliases:support:Default"] = "sonnet";
            s["ModelMix:Aliases:support:Rules:0:Name"] = "extraction-cheap";
            s["ModelMix:Aliases:support:Rules:0:TaskLabels:0"] = "extraction";
            s["ModelMix:Aliases:support:Rules:0:Target"] = "haiku";
        });
        var system = string.Concat(Enumerable.Repeat(LongSystem, 2)); // ~3,600 estimated tokens: ≥ Sonnet 4.6's 2,048, < Haiku 4.5's 4,096

        using (var first = await PostAsync(harness, AgentRequest("support", system: system), session: "s1"))
        {
            Assert.Equal("claude-sonnet-4-6", first.Headers.GetValues("x-modelmix-routed-model").Single());
        }

        // The policy now wants Haiku; a short answer makes Sonnet's cache read cheaper than Haiku's uncached prefix.
        using (var sticky = await PostAsync(harness, AgentRequest("support", system: system, maxTokens: 16), session: "s1", task: "extraction"))
        {
            Assert.Equal("claude-sonnet-4-6", sticky.Headers.GetValues("x-modelmix-routed-model").Single());
        }

        // A long answer: Haiku's cheaper output outweighs the lost cache, so the policy's choice stands.
        using (var switched = await PostAsync(harness, AgentRequest("support", system: system, maxTokens: 4096), session: "s1", task: "extraction"))
        {
            Assert.Equal("claude-haiku-4-5", switched.Headers.GetValues("x-modelmix-routed-model").Single().Replace("-20251001", string.Empty, StringComparison.Ordinal));
        }

        // Another session with no warm cache follows the policy.
        using (var fresh = await PostAsync(harness, AgentRequest("support", system: system, maxTokens: 16), session: "s2", task: "extraction"))
        {
            Assert.StartsWith("claude-haiku-4-5", fresh.Headers.GetValues("x-modelmix-routed-model").Single(), StringComparison.Ordinal);
        }

        var records = (await harness.ReadLedgerAsync()).OrderBy(r => r.Timestamp).ToList();
        Assert.Equal(4, records.Count);
        Assert.Equal(CacheAwareRouting.PolicyName, records[1].Policy);
        Assert.Matches(@"^cache-warm on claude-sonnet-4-6 \(~[\d,]+ tokens cached\): switching to claude-haiku-4-5\S* would cost \$0\.\d+ more", records[1].Reason);
        Assert.True(records[1].Usage.CacheReadTokens > 0, "the sticky call read the warm prefix");
        Assert.NotEqual(CacheAwareRouting.PolicyName, records[2].Policy);
        Assert.Contains("switching from cache-warm claude-sonnet-4-6", records[2].Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("cache-warm", records[3].Reason, StringComparison.Ordinal);
    }
}
