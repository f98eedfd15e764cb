using System.Text;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// The stream tap's edges, written from the survivors of a mutation run (docs/testing.md, area <c>sse-usage</c>): cache
/// counts a delta must not lower, error events without a type, the content that counts towards an estimate, events
/// the tap must skip without losing the stream, the event size limit at its boundary, and CRLF separators split
/// across chunks.
/// </summary>
public sealed class SseUsageTapEdgeTests
{
    [Fact]
    public void Cache_counts_follow_a_delta_up_and_never_down()
    {
        var tap = Observe(
            """{"type":"message_start","message":{"model":"claude-sonnet-4-5","usage":{"input_tokens":10,"output_tokens":1,"cache_creation_input_tokens":100,"cache_read_input_tokens":200,"cache_creation":{"ephemeral_5m_input_tokens":60,"ephemeral_1h_input_tokens":40}}}}""",
            // Every cache count below message_start's: a misbehaving upstream; none may go down.
            """{"type":"message_delta","usage":{"output_tokens":9,"cache_creation_input_tokens":3,"cache_read_input_tokens":5,"cache_creation":{"ephemeral_5m_input_tokens":1,"ephemeral_1h_input_tokens":2}}}""");

        Assert.Equal((200L, 60L, 40L, 9L), (tap.Usage.CacheReadTokens, tap.Usage.CacheWrite5mTokens, tap.Usage.CacheWrite1hTokens, tap.Usage.OutputTokens));

        // Counts above the earlier ones are taken.
        tap = Observe(
            """{"type":"message_start","message":{"model":"claude-sonnet-4-5","usage":{"input_tokens":10,"output_tokens":1}}}""",
            """{"type":"message_delta","usage":{"input_tokens":11,"output_tokens":9,"cache_creation_input_tokens":30,"cache_read_input_tokens":50,"cache_creation":{"ephemeral_5m_input_tokens":10,"ephemeral_1h_input_tokens":20}}}""");

        Assert.Equal((11L, 50L, 10L, 20L, 9L), (tap.Usage.InputTokens, tap.Usage.CacheReadTokens, tap.Usage.CacheWrite5mTokens, tap.Usage.CacheWrite1hTokens, tap.Usage.OutputTokens));
        Assert.True(tap.SawFinalUsage);
    }

    [Theory]
    [InlineData("""{"type":"error","error":{"type":"overloaded_error","message":"x"}}""", "overloaded_error")]
    [InlineData("""{"type":"error","error":{"message":"no type"}}""", "api_error")]
    [InlineData("""{"type":"error","error":{"type":null}}""", "api_error")]
    [InlineData("""{"type":"error"}""", "api_error")]
    public void An_error_event_without_a_type_is_an_api_error(string error, string expected)
    {
        var tap = Observe("""{"type":"message_start","message":{"model":"m","usage":{"input_tokens":3,"output_tokens":1}}}""", error);

        Assert.Equal(expected, tap.ErrorType);
        Assert.False(tap.Completed);
    }

    [Fact]
    public void Text_thinking_and_tool_input_count_towards_the_estimate_and_nothing_else_does()
    {
        var tap = Observe(
            """{"type":"message_start","message":{"model":"m","usage":{"input_tokens":3,"output_tokens":1}}}""",
            """{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"abcd"}}""",
            """{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"0123456789"}}""",
            """{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"ef"}}""",
            """{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}""",
            """{"type":"content_block_delta","index":2,"delta":"not an object"}""");

        // Four deltas with an object (the last is not one); bytes as sent without the quotes: "abcd" 4, the signature
        // 0, "ef" 2, {\"a\":1} 9 (each \" is two bytes: { \ " a \ " : 1 }) = 15 bytes → ⌈15 / 3⌉ = 5 tokens > 4 deltas.
        Assert.Equal(4, tap.ContentDeltas);
        Assert.Equal(15, tap.ContentBytes);
        var usage = tap.UsageOrEstimate(out var estimated);
        Assert.True(estimated);
        Assert.Equal((3L, 5L), (usage.InputTokens, usage.OutputTokens));
    }

    [Fact]
    public void An_estimate_below_what_message_start_reported_keeps_message_starts_count()
    {
        // 40 output tokens reported at the start; one delta of 3 bytes relayed → an estimate of 1 token: 40 stands.
        var tap = Observe(
            """{"type":"message_start","message":{"model":"m","usage":{"input_tokens":3,"output_tokens":40}}}""",
            """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"abc"}}""");

        var usage = tap.UsageOrEstimate(out var estimated);
        Assert.True(estimated);
        Assert.Equal(40, usage.OutputTokens);
    }

    [Fact]
    public void Events_the_tap_cannot_use_are_counted_and_skipped_and_the_stream_is_still_read()
    {
        var tap = new SseUsageTap();
        tap.Observe(Encoding.UTF8.GetBytes(
            "event: ping\n\n" + // no data line
            ": a comment\n\n" +
            "data: [DONE]\n\n" + // not JSON
            "data: [1,2]\n\n" + // not an object
            "data: {\"no\":\"type\"}\n\n" +
            "data: {\"type\":\"message_start\",\"message\":\"not an object\"}\n\n" +
            "data: {\"type\":\"message_delta\",\"usage\":7}\n\n" +
            // The first usable message_start: its model is not a string, its usage not an object.
            "data: {\"type\":\"message_start\",\"message\":{\"model\":5,\"usage\":[]}}\n\n" +
            "data: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":9}}}\n\n" +
            "data:{\"type\":\"message_stop\"}\n\n")); // no space after "data:"

        Assert.Equal(10, tap.Events);
        Assert.Null(tap.Model); // the second message_start is ignored, as a repeated one always is
        Assert.Equal(0, tap.Usage.InputTokens);
        Assert.False(tap.SawFinalUsage);
        Assert.True(tap.Completed);
    }

    [Fact]
    public void A_message_start_whose_message_is_not_an_object_does_not_count_as_the_start()
    {
        var tap = Observe(
            """{"type":"message_start","message":[]}""",
            """{"type":"message_start","message":{"model":"claude-haiku-4-5","usage":{"input_tokens":9,"output_tokens":1}}}""");

        Assert.Equal("claude-haiku-4-5", tap.Model);
        Assert.Equal(9, tap.Usage.InputTokens);
    }

    [Fact]
    public void Dropped_thinking_blocks_are_counted_from_message_start_and_replaced_by_a_delta()
    {
        var tap = Observe(
            """{"type":"message_start","message":{"model":"m","usage":{"input_tokens":3,"output_tokens":1},"input_transformations":[{"type":"thinking_dropped"},{"type":"other"},{"type":"thinking_dropped"}]}}""");
        Assert.Equal(2, tap.ThinkingBlocksDropped);

        tap.Observe(Encoding.UTF8.GetBytes("data: {\"type\":\"message_delta\",\"input_transformations\":[{\"type\":\"thinking_dropped\"}]}\n\n"));
        Assert.Equal(1, tap.ThinkingBlocksDropped);
    }

    [Fact]
    public void An_event_exactly_at_the_limit_is_read_and_one_byte_more_overflows()
    {
        var start = "data: {\"type\":\"message_start\",\"message\":{\"model\":\"m\"}}\n"; // the event, one newline short of its end
        var limit = Encoding.UTF8.GetByteCount(start);

        var atLimit = new SseUsageTap(limit);
        atLimit.Observe(Encoding.UTF8.GetBytes(start));
        Assert.False(atLimit.Overflowed);
        atLimit.Observe("\n"u8);
        Assert.Equal("m", atLimit.Model);

        var over = new SseUsageTap(limit - 1);
        over.Observe(Encoding.UTF8.GetBytes(start));
        Assert.True(over.Overflowed);
        // Nothing more is read once overflowed, not even complete events.
        over.Observe("\ndata: {\"type\":\"message_stop\"}\n\n"u8);
        Assert.Null(over.Model);
        Assert.False(over.Completed);
        Assert.Equal(0, over.Events);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_crlf_separator_split_across_chunks_ends_the_event(int chunkSize)
    {
        var bytes = Encoding.UTF8.GetBytes(
            "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":4,\"output_tokens\":1}}}\r\n\r\n" +
            "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n");
        var tap = new SseUsageTap();
        for (var offset = 0; offset < bytes.Length; offset += chunkSize)
        {
            tap.Observe(bytes.AsSpan(offset, Math.Min(chunkSize, bytes.Length - offset)));
        }

        Assert.Equal(2, tap.Events);
        Assert.Equal(("m", 4L), (tap.Model, tap.Usage.InputTokens));
        Assert.True(tap.Completed);
    }

    [Fact]
    public void An_event_ended_by_a_newline_and_a_lone_carriage_return_is_not_complete_yet()
    {
        var tap = new SseUsageTap();
        tap.Observe("data: {\"type\":\"message_stop\"}\n\r"u8);
        Assert.Equal(0, tap.Events); // "\n\r" may be the start of "\n\r\n": wait for the next byte
        tap.Observe("\n"u8);
        Assert.Equal(1, tap.Events);
        Assert.True(tap.Completed);
    }

    /// <summary>A tap fed each JSON payload as one <c>data:</c> event, all in one chunk.</summary>
    private static SseUsageTap Observe(params string[] payloads)
    {
        var tap = new SseUsageTap();
        tap.Observe(Encoding.UTF8.GetBytes(string.Concat(payloads.Select(p => $"data: {p}\n\n"))));
        return tap;
    }
}
