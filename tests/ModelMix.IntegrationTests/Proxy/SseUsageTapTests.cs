using System.Text;
using FakeAnthropic;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>The stream tap reads usage from the fixture streams however the bytes are chunked.</summary>
public sealed class SseUsageTapTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(100_000)]
    public void Text_stream_yields_final_usage_model_and_completion(int chunkSize)
    {
        var tap = Feed("streaming/text.sse", chunkSize);

        Assert.True(tap.Completed);
        Assert.Null(tap.ErrorType);
        Assert.Equal("claude-haiku-4-5-20251001", tap.Model);
        Assert.Equal(16, tap.Usage.InputTokens);
        Assert.Equal(22, tap.Usage.OutputTokens);
        Assert.Equal(12, tap.Events);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(100_000)]
    public void Tool_use_stream_keeps_cache_reads_from_message_start(int chunkSize)
    {
        var tap = Feed("streaming/tool-use.sse", chunkSize);

        Assert.True(tap.Completed);
        Assert.Equal(29, tap.Usage.InputTokens);
        Assert.Equal(87, tap.Usage.OutputTokens);
        Assert.Equal(5562, tap.Usage.CacheReadTokens);
    }

    [Fact]
    public void Error_event_mid_stream_is_seen_and_the_stream_is_not_complete()
    {
        var tap = Feed("streaming/error-midstream.sse", 5);

        Assert.False(tap.Completed);
        Assert.Equal("overloaded_error", tap.ErrorType);
        Assert.Equal(16, tap.Usage.InputTokens);
    }

    [Fact]
    public void A_second_message_start_and_a_lower_delta_do_not_lower_the_recorded_usage()
    {
        // A misbehaving upstream: a second message_start with tiny counts, then a final delta below an earlier one.
        var tap = new SseUsageTap();
        tap.Observe(Encoding.UTF8.GetBytes(
            """
            event: message_start
            data: {"type":"message_start","message":{"model":"claude-haiku-4-5","usage":{"input_tokens":500,"output_tokens":1}}}

            event: message_delta
            data: {"type":"message_delta","delta":{"stop_reason":null},"usage":{"output_tokens":300}}

            event: message_start
            data: {"type":"message_start","message":{"model":"claude-other","usage":{"input_tokens":1,"output_tokens":1}}}

            event: message_delta
            data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":2,"output_tokens":7}}

            event: message_delta
            data: {"type":"message_delta","usage":{"output_tokens":"lots"}}


            """.Replace("\r\n", "\n", StringComparison.Ordinal)));

        Assert.Equal("claude-haiku-4-5", tap.Model);
        Assert.Equal((500L, 300L), (tap.Usage.InputTokens, tap.Usage.OutputTokens));
        Assert.True(tap.SawFinalUsage);
    }

    [Fact]
    public void A_stream_without_its_final_usage_is_estimated_from_the_content_relayed()
    {
        // message_start (16 input, 1 output), then the text deltas of the fixture and no message_delta: cut.
        var text = SharedFixtures.Read("streaming/text.sse").Replace("\r\n", "\n", StringComparison.Ordinal);
        var tap = new SseUsageTap();
        tap.Observe(Encoding.UTF8.GetBytes(text[..text.IndexOf("event: content_block_stop", StringComparison.Ordinal)]));

        var usage = tap.UsageOrEstimate(out var estimated);
        Assert.True(estimated);
        Assert.Equal(6, tap.ContentDeltas);
        // The six deltas' text as sent: "Pennies" 7, " per thousand" 13, "—\nsmall models" 17 ("—" is 3 bytes, "\n"
        // escaped is 2), " carry the load,\n" 18, "big ones" 8, " wait their turn." 17 = 80 bytes → ⌈80 / 3⌉ = 27 tokens.
        Assert.Equal(80, tap.ContentBytes);
        Assert.Equal((16L, 27L), (usage.InputTokens, usage.OutputTokens));

        var complete = Feed("streaming/text.sse", 100_000).UsageOrEstimate(out var exact);
        Assert.False(exact);
        Assert.Equal(22, complete.OutputTokens); // the API's own count once message_delta arrived
    }

    [Fact]
    public void Crlf_line_endings_are_understood()
    {
        var text = SharedFixtures.Read("streaming/text.sse").Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal);
        var tap = new SseUsageTap();
        tap.Observe(Encoding.UTF8.GetBytes(text));

        Assert.True(tap.Completed);
        Assert.Equal(22, tap.Usage.OutputTokens);
    }

    private static SseUsageTap Feed(string fixture, int chunkSize)
    {
        var bytes = Encoding.UTF8.GetBytes(SharedFixtures.Read(fixture));
        var tap = new SseUsageTap();
        for (var offset = 0; offset < bytes.Length; offset += chunkSize)
        {
            tap.Observe(bytes.AsSpan(offset, Math.Min(chunkSize, bytes.Length - offset)));
        }

        return tap;
    }
}
