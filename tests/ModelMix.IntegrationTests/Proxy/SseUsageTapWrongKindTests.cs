using System.Text;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// The stream tap on fields of the wrong JSON kind and a blank event first, written from the last survivors of the
/// <c>sse-usage</c> mutation run (docs/testing.md): each field is read only when it has the kind the tap expects, so a
/// field of another kind loses that field alone, never the rest of its event; and a stream that starts with an empty
/// event is still read.
/// </summary>
public sealed class SseUsageTapWrongKindTests
{
    [Fact]
    public void A_blank_event_at_the_very_start_is_counted_and_the_stream_is_still_read()
    {
        var tap = new SseUsageTap();

        // "\n\n" first: an event whose block is empty, ending at offset 0 (a reader that took an end at 0 for "no end
        // yet" would stall here for good and never see message_start).
        tap.Observe(Encoding.UTF8.GetBytes("\n\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n"));

        Assert.Equal(2, tap.Events);
        Assert.Equal("m", tap.Model);
        Assert.Equal(7, tap.Usage.InputTokens);
    }

    [Fact]
    public void A_model_that_is_not_a_string_loses_only_the_model()
    {
        var tap = Observe("""{"type":"message_start","message":{"model":12345,"usage":{"input_tokens":7,"output_tokens":1}}}""");

        Assert.Null(tap.Model);
        Assert.Equal(7, tap.Usage.InputTokens); // the usage beside it is still read
    }

    [Fact]
    public void A_start_usage_that_is_not_an_object_loses_only_the_usage()
    {
        var tap = Observe("""{"type":"message_start","message":{"model":"m","usage":"none","input_transformations":[{"type":"thinking_dropped"},{"type":"thinking_dropped"}]}}""");

        Assert.Equal("m", tap.Model);
        Assert.Equal(0, tap.Usage.InputTokens);
        Assert.Equal(2, tap.ThinkingBlocksDropped); // the transformations after it are still read
    }

    [Fact]
    public void A_delta_usage_that_is_not_an_object_loses_only_the_usage()
    {
        var tap = Observe(
            """{"type":"message_start","message":{"model":"m","usage":{"input_tokens":7,"output_tokens":1}}}""",
            """{"type":"message_delta","usage":42,"input_transformations":[{"type":"thinking_dropped"}]}""");

        Assert.False(tap.SawFinalUsage);
        Assert.Equal(1, tap.Usage.OutputTokens);
        Assert.Equal(1, tap.ThinkingBlocksDropped); // the transformations after it are still read
    }

    [Fact]
    public void Generated_fields_that_are_not_strings_count_no_bytes()
    {
        // "text":12345 is five raw bytes; counted as a string (less its two quotes) it would be 3 bytes. Only the
        // string "ab" counts: 2 bytes, over 2 deltas.
        var tap = Observe(
            """{"type":"message_start","message":{"model":"m","usage":{"input_tokens":7,"output_tokens":1}}}""",
            """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":12345}}""",
            """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ab"}}""");

        Assert.Equal(2, tap.ContentDeltas);
        Assert.Equal(2, tap.ContentBytes);
    }

    private static SseUsageTap Observe(params string[] payloads)
    {
        var tap = new SseUsageTap();
        tap.Observe(Encoding.UTF8.GetBytes(string.Concat(payloads.Select(p => $"data: {p}\n\n"))));
        return tap;
    }
}
