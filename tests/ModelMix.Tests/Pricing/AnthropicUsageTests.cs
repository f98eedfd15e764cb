using System.Globalization;
using System.Text.Json;
using ModelMix.Pricing;
using SdkMessage = Anthropic.Models.Messages.Message;
using SdkMessageDeltaUsage = Anthropic.Models.Messages.MessageDeltaUsage;

namespace ModelMix.Tests.Pricing;

/// <summary>Usage parsing from the shared wire fixtures and the SDK types, and the fixtures priced end to end.</summary>
public sealed class AnthropicUsageTests
{
    private static readonly DateTimeOffset s_at = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    // the caching table of fixtures/anthropic/README.md: input, 5m, 1h, read, output
    [InlineData("messages/response-tool-use.json", 5591, 0, 0, 0, 87)]
    [InlineData("messages/response-cache-write.json", 29, 3150, 2412, 0, 87)]
    [InlineData("messages/response-cache-read.json", 29, 0, 0, 5562, 87)]
    [InlineData("messages/response-cache-read-partial.json", 29, 3150, 0, 2412, 87)]
    public void Wire_usage_of_each_caching_fixture_matches_the_readme_table(
        string file, long input, long write5m, long write1h, long read, long output)
    {
        var usage = AnthropicUsage.FromJson(UsageOf(file));

        Assert.Equal(new TokenUsage(input, output, write5m, write1h, read, ServiceTier.Standard, Speed.Standard, "not_available"), usage);
        Assert.Equal(5591, usage.TotalInputTokens);
    }

    [Theory]
    // Sonnet 4.5 at $3 / $15 / 5m $3.75 / 1h $6 / read $0.30 per MTok:
    // no cache: 5591*3 + 87*15 = 16773+1305 = 18078 /1e6 = 0.018078
    [InlineData("messages/response-tool-use.json", "0.018078")]
    // 5562 cache-write tokens: 29*3 + 3150*3.75 + 2412*6 + 87*15 = 87+11812.5+14472+1305 = 27676.5 /1e6 = 0.0276765
    [InlineData("messages/response-cache-write.json", "0.0276765")]
    // 29*3 + 5562*0.3 + 87*15 = 87+1668.6+1305 = 3060.6 /1e6 = 0.0030606
    [InlineData("messages/response-cache-read.json", "0.0030606")]
    // 29*3 + 3150*3.75 + 2412*0.3 + 87*15 = 87+11812.5+723.6+1305 = 13928.1 /1e6 = 0.0139281
    [InlineData("messages/response-cache-read-partial.json", "0.0139281")]
    // Haiku 4.5 (dated id in the response): 19*1 + 33*5 = 19+165 = 184 /1e6 = 0.000184
    [InlineData("messages/response-text.json", "0.000184")]
    // Opus 4.5: 27*5 + 64*25 = 135+1600 = 1735 /1e6 = 0.001735
    [InlineData("messages/response-max-tokens.json", "0.001735")]
    public void Fixture_responses_are_priced_on_the_model_they_report(string file, string expected)
    {
        using var doc = JsonDocument.Parse(SharedFixtures.ReadAnthropic(file));
        var model = doc.RootElement.GetProperty("model").GetString()!;
        var usage = AnthropicUsage.FromJson(doc.RootElement.GetProperty("usage"));

        var cost = PriceBook.Default.Cost(model, usage, s_at);

        Assert.Equal(decimal.Parse(expected, CultureInfo.InvariantCulture), cost.Total);
    }

    [Fact]
    public void Cache_write_fixture_breakdown_is_exact()
    {
        // 29*3 = 87 -> 0.000087; 87*15 = 1305 -> 0.001305; 3150*3.75 = 11812.5 -> 0.0118125; 2412*6 = 14472 -> 0.014472
        var usage = AnthropicUsage.FromJson(UsageOf("messages/response-cache-write.json"));

        var cost = PriceBook.Default.Cost("claude-sonnet-4-5-20250929", usage, s_at);

        Assert.Equal(new CostBreakdown(0.000087m, 0.001305m, 0.0118125m, 0.014472m, 0m), cost);
    }

    [Fact]
    public void Sdk_usage_matches_wire_usage_for_every_message_fixture()
    {
        foreach (var file in Directory.GetFiles(SharedFixtures.Anthropic("messages"), "response-*.json"))
        {
            var json = File.ReadAllText(file);
            var message = JsonSerializer.Deserialize<SdkMessage>(json)!;
            using var doc = JsonDocument.Parse(json);

            Assert.Equal(AnthropicUsage.FromJson(doc.RootElement.GetProperty("usage")), AnthropicUsage.FromSdk(message.Usage));
        }
    }

    [Fact]
    public void Batch_result_usage_carries_the_batch_tier_and_is_priced_at_half()
    {
        var firstLine = SharedFixtures.ReadAnthropic("batches/results.jsonl").Split('\n')[0];
        using var doc = JsonDocument.Parse(firstLine);
        var message = doc.RootElement.GetProperty("result").GetProperty("message");

        var usage = AnthropicUsage.FromJson(message.GetProperty("usage"));
        var cost = PriceBook.Default.Cost(message.GetProperty("model").GetString()!, usage, s_at);

        Assert.Equal(ServiceTier.Batch, usage.ServiceTier);
        // Haiku 4.5 batch: (52*1 + 31*5) * 0.5 = (52+155)=207*0.5 = 103.5 /1e6 = 0.0001035
        Assert.Equal(0.0001035m, cost.Total);
    }

    [Theory]
    // message_start then message_delta (cumulative output); Haiku 4.5: 16*1 + 22*5 = 16+110 = 126 /1e6 = 0.000126
    [InlineData("streaming/text.sse", 16, 0, 22, "0.000126")]
    // warm cache, Sonnet 4.5: 29*3 + 5562*0.3 + 87*15 = 87+1668.6+1305 = 3060.6 /1e6 = 0.0030606
    [InlineData("streaming/tool-use.sse", 29, 5562, 87, "0.0030606")]
    public void Streamed_usage_is_message_start_overridden_by_message_delta(
        string file, long input, long read, long output, string expected)
    {
        var usage = default(TokenUsage);
        string? model = null;
        foreach (var data in SseData(file))
        {
            using var doc = JsonDocument.Parse(data);
            if (doc.RootElement.GetProperty("type").GetString() == "message_start")
            {
                model = doc.RootElement.GetProperty("message").GetProperty("model").GetString();
            }

            usage = AnthropicUsage.ApplyStreamEvent(usage, doc.RootElement);
        }

        Assert.Equal(new TokenUsage(input, output, 0, 0, read, ServiceTier.Standard, Speed.Standard, "not_available"), usage);
        Assert.Equal(decimal.Parse(expected, CultureInfo.InvariantCulture), PriceBook.Default.Cost(model!, usage, s_at).Total);
    }

    [Fact]
    public void Stream_cut_before_message_delta_keeps_the_message_start_placeholder()
    {
        var usage = default(TokenUsage);
        foreach (var data in SseData("streaming/error-midstream.sse"))
        {
            using var doc = JsonDocument.Parse(data);
            usage = AnthropicUsage.ApplyStreamEvent(usage, doc.RootElement);
        }

        Assert.Equal(16, usage.InputTokens);
        Assert.Equal(1, usage.OutputTokens);
    }

    [Fact]
    public void Missing_fields_count_as_zero_and_default()
    {
        using var doc = JsonDocument.Parse("""{"output_tokens": 5}""");

        Assert.Equal(new TokenUsage(0, 5), AnthropicUsage.FromJson(doc.RootElement));
    }

    [Fact]
    public void Cache_creation_without_breakdown_counts_as_5m_writes()
    {
        using var doc = JsonDocument.Parse("""{"input_tokens": 10, "cache_creation_input_tokens": 500, "output_tokens": 5}""");

        var usage = AnthropicUsage.FromJson(doc.RootElement);

        Assert.Equal(500, usage.CacheWrite5mTokens);
        Assert.Equal(0, usage.CacheWrite1hTokens);
    }

    [Theory]
    [InlineData("""{"input_tokens": 1, "input_tokens": 7, "output_tokens": 2}""", 7, 2, 0, 0)]
    [InlineData("""{"input_tokens": 3, "output_tokens": 2.5, "cache_read_input_tokens": "9"}""", 3, 0, 0, 0)]
    [InlineData("""{"input_tokens": 3, "output_tokens": 4, "cache_creation_input_tokens": 50, "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 40}, "cache_creation": {"ephemeral_1h_input_tokens": 20}}""", 3, 4, 30, 20)]
    [InlineData("""{"input_tokens": 3, "output_tokens": 4, "cache_creation_input_tokens": 50, "cache_creation": {"ephemeral_1h_input_tokens": 40}, "cache_creation": null}""", 3, 4, 50, 0)]
    [InlineData("""{"inp\u0075t_tokens": 5, "extra": {"input_tokens": 99, "list": [1, {"a": 2}]}, "output_tokens": 6}""", 5, 6, 0, 0)]
    public void A_name_given_twice_takes_its_last_value_and_a_value_of_the_wrong_type_counts_as_absent(string json, long input, long output, long write5m, long write1h)
    {
        using var doc = JsonDocument.Parse(json);

        var usage = AnthropicUsage.FromJson(doc.RootElement);

        Assert.Equal((input, output, write5m, write1h), (usage.InputTokens, usage.OutputTokens, usage.CacheWrite5mTokens, usage.CacheWrite1hTokens));
    }

    [Fact]
    public void Read_takes_the_usage_from_a_reader_inside_a_message_and_leaves_it_on_the_object_end()
    {
        var message = File.ReadAllBytes(SharedFixtures.Anthropic("messages/response-text.json"));
        using var doc = JsonDocument.Parse(message);
        var reader = new Utf8JsonReader(message);
        while (reader.Read() && !(reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("usage"u8)))
        {
        }

        reader.Read();
        var usage = AnthropicUsage.Read(ref reader);

        Assert.Equal(AnthropicUsage.FromJson(doc.RootElement.GetProperty("usage")), usage);
        Assert.Equal(new TokenUsage(19, 33, 0, 0, 0, ServiceTier.Standard, Speed.Standard, "not_available"), usage);
        Assert.Equal(JsonTokenType.EndObject, reader.TokenType);
        Assert.Equal(1, reader.CurrentDepth);
    }

    [Fact]
    public void Read_refuses_a_reader_that_is_not_on_an_object()
    {
        Assert.Throws<ArgumentException>(() =>
        {
            var reader = new Utf8JsonReader("[1]"u8);
            reader.Read();
            AnthropicUsage.Read(ref reader);
        });
    }

    [Fact]
    public void Tier_speed_and_geo_are_read()
    {
        using var doc = JsonDocument.Parse(
            """{"input_tokens": 1, "output_tokens": 2, "service_tier": "batch", "speed": "fast", "inference_geo": "us"}""");

        var usage = AnthropicUsage.FromJson(doc.RootElement);

        Assert.Equal(new TokenUsage(1, 2, 0, 0, 0, ServiceTier.Batch, Speed.Fast, "us"), usage);
    }

    [Fact]
    public void Delta_overrides_only_the_fields_it_contains()
    {
        var start = new TokenUsage(100, 1, 300, 200, 50, ServiceTier.Standard, Speed.Fast, "us");
        using var doc = JsonDocument.Parse("""{"output_tokens": 900}""");

        var merged = AnthropicUsage.MergeDelta(start, doc.RootElement);

        Assert.Equal(start with { OutputTokens = 900 }, merged);
    }

    [Fact]
    public void Delta_with_an_unchanged_cache_creation_total_keeps_the_ttl_split()
    {
        var start = new TokenUsage(29, 2, 3150, 2412, 0);
        using var doc = JsonDocument.Parse("""{"input_tokens": 29, "cache_creation_input_tokens": 5562, "output_tokens": 87}""");

        var merged = AnthropicUsage.MergeDelta(start, doc.RootElement);

        Assert.Equal(new TokenUsage(29, 87, 3150, 2412, 0), merged);
    }

    [Fact]
    public void Sdk_delta_usage_merges_like_the_wire_delta()
    {
        var start = new TokenUsage(29, 2, 0, 0, 5562, ServiceTier.Standard, Speed.Standard, "not_available");
        const string delta = """{"input_tokens":29,"cache_creation_input_tokens":0,"cache_read_input_tokens":5562,"output_tokens":87}""";
        var sdkDelta = JsonSerializer.Deserialize<SdkMessageDeltaUsage>(delta)!;
        using var doc = JsonDocument.Parse(delta);

        Assert.Equal(AnthropicUsage.MergeDelta(start, doc.RootElement), AnthropicUsage.MergeDelta(start, sdkDelta));
        Assert.Equal(87, AnthropicUsage.MergeDelta(start, sdkDelta).OutputTokens);
    }

    [Fact]
    public void Server_tool_use_counts_are_read_from_the_wire_usage()
    {
        using var doc = JsonDocument.Parse(
            """{"input_tokens":1200,"output_tokens":300,"server_tool_use":{"web_search_requests":3,"web_fetch_requests":2,"future_requests":9},"service_tier":"standard"}""");

        var usage = AnthropicUsage.FromJson(doc.RootElement);

        Assert.Equal(new TokenUsage(1200, 300, WebSearchRequests: 3, WebFetchRequests: 2), usage);
        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(doc.RootElement.GetRawText()));
        reader.Read();
        Assert.Equal(usage, AnthropicUsage.Read(ref reader)); // the proxy's no-document path reads the same
    }

    [Theory]
    [InlineData("""{"input_tokens":5,"output_tokens":1,"server_tool_use":null}""")]
    [InlineData("""{"input_tokens":5,"output_tokens":1,"server_tool_use":{}}""")]
    [InlineData("""{"input_tokens":5,"output_tokens":1,"server_tool_use":{"web_search_requests":null}}""")]
    [InlineData("""{"input_tokens":5,"output_tokens":1}""")]
    public void Absent_or_null_server_tool_use_counts_no_use(string json)
    {
        using var doc = JsonDocument.Parse(json);

        Assert.Equal(new TokenUsage(5, 1), AnthropicUsage.FromJson(doc.RootElement));
    }

    [Fact]
    public void A_stream_learns_its_searches_from_message_delta_and_keeps_them_when_a_later_delta_omits_them()
    {
        // message_start reports no server tool use yet; message_delta carries the cumulative count.
        using var start = JsonDocument.Parse("""{"type":"message_start","message":{"usage":{"input_tokens":40,"output_tokens":1}}}""");
        using var delta = JsonDocument.Parse("""{"type":"message_delta","usage":{"output_tokens":300,"server_tool_use":{"web_search_requests":1000}}}""");
        using var later = JsonDocument.Parse("""{"type":"message_delta","usage":{"output_tokens":301}}""");

        var usage = AnthropicUsage.ApplyStreamEvent(default, start.RootElement);
        usage = AnthropicUsage.ApplyStreamEvent(usage, delta.RootElement);

        Assert.Equal(new TokenUsage(40, 300, WebSearchRequests: 1000), usage);
        Assert.Equal(new TokenUsage(40, 301, WebSearchRequests: 1000), AnthropicUsage.ApplyStreamEvent(usage, later.RootElement));
    }

    [Fact]
    public void Sdk_usage_and_delta_carry_server_tool_use_like_the_wire()
    {
        const string message = """
            {"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5-20251001","content":[],"stop_reason":"end_turn","stop_sequence":null,
             "usage":{"input_tokens":10,"output_tokens":2,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"server_tool_use":{"web_search_requests":7,"web_fetch_requests":1},"service_tier":"standard"}}
            """;
        using var doc = JsonDocument.Parse(message);
        var sdk = JsonSerializer.Deserialize<SdkMessage>(message)!;

        Assert.Equal(AnthropicUsage.FromJson(doc.RootElement.GetProperty("usage")), AnthropicUsage.FromSdk(sdk.Usage));
        Assert.Equal((7L, 1L), (AnthropicUsage.FromSdk(sdk.Usage).WebSearchRequests, AnthropicUsage.FromSdk(sdk.Usage).WebFetchRequests));

        const string delta = """{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":50,"server_tool_use":{"web_search_requests":9,"web_fetch_requests":0}}""";
        using var deltaDoc = JsonDocument.Parse(delta);
        var sdkDelta = JsonSerializer.Deserialize<SdkMessageDeltaUsage>(delta)!;
        var start = new TokenUsage(10, 1, WebFetchRequests: 4);

        Assert.Equal(AnthropicUsage.MergeDelta(start, deltaDoc.RootElement), AnthropicUsage.MergeDelta(start, sdkDelta));
        Assert.Equal(new TokenUsage(10, 50, WebSearchRequests: 9, WebFetchRequests: 0), AnthropicUsage.MergeDelta(start, sdkDelta));
    }

    // Mutation testing (docs/testing.md) found the merge's "a field the delta carries replaces the earlier one" checked
    // only for output tokens: a merge that kept message_start's input, reads, tier, speed or geo survived.
    [Fact]
    public void Delta_replaces_every_field_it_carries()
    {
        var start = new TokenUsage(100, 1, 300, 200, 50, ServiceTier.Standard, Speed.Standard, "global");
        using var doc = JsonDocument.Parse(
            """{"input_tokens": 120, "output_tokens": 900, "cache_read_input_tokens": 70, "service_tier": "priority", "speed": "fast", "inference_geo": "us"}""");

        var merged = AnthropicUsage.MergeDelta(start, doc.RootElement);

        Assert.Equal(new TokenUsage(120, 900, 300, 200, 70, ServiceTier.Priority, Speed.Fast, "us"), merged);
    }

    [Fact]
    public void Delta_without_tier_speed_or_geo_keeps_the_starts()
    {
        var start = new TokenUsage(100, 1, 0, 0, 0, ServiceTier.Batch, Speed.Fast, "us");
        using var doc = JsonDocument.Parse("""{"output_tokens": 5, "service_tier": null}""");

        var merged = AnthropicUsage.MergeDelta(start, doc.RootElement);

        Assert.Equal((ServiceTier.Batch, Speed.Fast, "us"), (merged.ServiceTier, merged.Speed, merged.InferenceGeo));
    }

    [Theory]
    // a new total without a breakdown keeps the known 1h writes and counts the rest as 5m writes
    [InlineData(300, 200, 900, 700, 200)]
    // a total below the known 1h writes: all of it 5m (never a negative count)
    [InlineData(300, 200, 150, 150, 0)]
    // the same total: the split stands
    [InlineData(300, 200, 500, 300, 200)]
    // a total equal to the known 1h writes: all of it 1h
    [InlineData(300, 200, 200, 0, 200)]
    public void Delta_cache_total_without_breakdown_is_split_keeping_the_1h_writes(long start5m, long start1h, long total, long write5m, long write1h)
    {
        var start = new TokenUsage(10, 1, start5m, start1h, 0);
        using var doc = JsonDocument.Parse($$"""{"cache_creation_input_tokens": {{total}}}""");

        var merged = AnthropicUsage.MergeDelta(start, doc.RootElement);

        Assert.Equal((write5m, write1h), (merged.CacheWrite5mTokens, merged.CacheWrite1hTokens));
    }

    [Theory]
    // the breakdown adds up to the total: taken as is
    [InlineData("""{"cache_creation_input_tokens": 500, "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 400}}""", 100, 400)]
    // more in the total than the breakdown says: the rest are 5m writes
    [InlineData("""{"cache_creation_input_tokens": 700, "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 400}}""", 300, 400)]
    // a breakdown and no total: the breakdown
    [InlineData("""{"cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 400}}""", 100, 400)]
    public void Delta_with_a_breakdown_takes_it_and_counts_any_remainder_as_5m(string delta, long write5m, long write1h)
    {
        var start = new TokenUsage(10, 1, 9, 9, 0);
        using var doc = JsonDocument.Parse(delta);

        var merged = AnthropicUsage.MergeDelta(start, doc.RootElement);

        Assert.Equal((write5m, write1h), (merged.CacheWrite5mTokens, merged.CacheWrite1hTokens));
    }

    [Fact]
    public void A_breakdown_without_a_total_is_taken_as_is()
    {
        using var doc = JsonDocument.Parse("""{"input_tokens": 1, "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 200}}""");

        var usage = AnthropicUsage.FromJson(doc.RootElement);

        Assert.Equal((300, 200), (usage.CacheWrite5mTokens, usage.CacheWrite1hTokens));
    }

    [Fact]
    public void Sdk_delta_replaces_input_and_reads_and_splits_a_new_cache_total()
    {
        var start = new TokenUsage(10, 1, 300, 200, 40);
        var delta = JsonSerializer.Deserialize<SdkMessageDeltaUsage>("""{"input_tokens":12,"cache_creation_input_tokens":900,"cache_read_input_tokens":44,"output_tokens":87}""")!;

        Assert.Equal(new TokenUsage(12, 87, 700, 200, 44), AnthropicUsage.MergeDelta(start, delta));
    }

    [Fact]
    public void A_usage_that_is_not_an_object_is_refused_by_every_reader()
    {
        using var doc = JsonDocument.Parse("[1]");

        Assert.Throws<ArgumentException>(() => AnthropicUsage.FromJson(doc.RootElement));
        Assert.Throws<ArgumentException>(() => AnthropicUsage.MergeDelta(default, doc.RootElement));
    }

    [Theory]
    [InlineData("batch", ServiceTier.Batch)]
    [InlineData("PRIORITY", ServiceTier.Priority)]
    [InlineData("standard", ServiceTier.Standard)]
    [InlineData("flex", ServiceTier.Standard)]
    [InlineData(null, ServiceTier.Standard)]
    public void Service_tiers_are_read_by_name(string? wire, ServiceTier tier)
    {
        Assert.Equal(tier, AnthropicUsage.ParseServiceTier(wire));
    }

    private static JsonElement UsageOf(string file)
    {
        using var doc = JsonDocument.Parse(SharedFixtures.ReadAnthropic(file));
        return doc.RootElement.GetProperty("usage").Clone();
    }

    private static IEnumerable<string> SseData(string file) =>
        SharedFixtures.ReadAnthropic(file)
            .Split('\n')
            .Where(static line => line.StartsWith("data: ", StringComparison.Ordinal))
            .Select(static line => line["data: ".Length..]);
}
