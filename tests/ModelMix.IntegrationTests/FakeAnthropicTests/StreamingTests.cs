using System.Text;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using FakeAnthropic;

namespace ModelMix.IntegrationTests.FakeAnthropicTests;

public sealed class StreamingTests : FakeServerTest
{
    [Fact]
    public async Task CreateStreaming_delivers_all_events_and_the_final_usage()
    {
        var names = new List<string>();
        var text = new StringBuilder();
        RawMessageStartEvent? start = null;
        RawMessageDeltaEvent? delta = null;

        await foreach (var ev in Client.Messages.CreateStreaming(Ask()))
        {
            names.Add(ev.Type.Raw());
            if (ev.TryPickStart(out var s))
            {
                start = s;
            }
            else if (ev.TryPickDelta(out var d))
            {
                delta = d;
            }
            else if (ev.TryPickContentBlockDelta(out var cbd) && cbd!.Delta.TryPickText(out var t))
            {
                text.Append(t!.Text);
            }
        }

        Assert.Equal(
            ["message_start", "content_block_start", .. Enumerable.Repeat("content_block_delta", 6), "content_block_stop", "message_delta", "message_stop"],
            names);
        Assert.Equal("claude-haiku-4-5-20251001", start!.Message.Model.Raw());
        Assert.Matches("^msg_01[1-9A-HJ-NP-Za-km-z]{22}$", start.Message.ID);
        Assert.Equal("Pennies per thousand\u2014\nsmall models carry the load,\nbig ones wait their turn.", text.ToString());
        Assert.Equal(StopReason.EndTurn, delta!.Delta.StopReason!.Value());
        Assert.Equal(22, delta.Usage.OutputTokens);
        Assert.Equal(16, delta.Usage.InputTokens);
        Assert.Equal("text/event-stream; charset=utf-8", Capture.Last.Content.Headers.ContentType!.ToString());
        Assert.True(Server.MessageRequests[0].Json!["stream"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Tool_use_stream_parses_strictly_with_caller_and_cache_usage()
    {
        Server.Enqueue(FakeReply.Stream("streaming/tool-use.sse"));
        var json = new StringBuilder();
        ToolUseBlock? tool = null;
        RawMessageStartEvent? start = null;
        RawMessageDeltaEvent? delta = null;

        await foreach (var ev in Client.Messages.CreateStreaming(Ask(model: "claude-sonnet-4-5")))
        {
            if (ev.TryPickStart(out var s))
            {
                start = s;
            }
            else if (ev.TryPickDelta(out var d))
            {
                delta = d;
            }
            else if (ev.TryPickContentBlockStart(out var cbs) && cbs!.ContentBlock.TryPickToolUse(out var tu))
            {
                tool = tu;
            }
            else if (ev.TryPickContentBlockDelta(out var cbd) && cbd!.Delta.TryPickInputJson(out var ij))
            {
                json.Append(ij!.PartialJson);
            }
        }

        Assert.Equal("get_weather", tool!.Name);
        Assert.NotNull(tool.Caller);
        Assert.Equal("""{"city": "Paris", "unit": "celsius"}""", json.ToString());
        Assert.Equal(5562, start!.Message.Usage.CacheReadInputTokens);
        Assert.Equal(StopReason.ToolUse, delta!.Delta.StopReason!.Value());
        Assert.Equal(87, delta.Usage.OutputTokens);
    }

    [Fact]
    public async Task WithUsage_rewrites_message_start_and_message_delta()
    {
        Server.Enqueue(FakeReply.Stream().WithUsage(input: 50, output: 400, cacheWrite5m: 10, cacheWrite1h: 20, cacheRead: 30));
        RawMessageStartEvent? start = null;
        RawMessageDeltaEvent? delta = null;

        await foreach (var ev in Client.Messages.CreateStreaming(Ask()))
        {
            if (ev.TryPickStart(out var s))
            {
                start = s;
            }
            else if (ev.TryPickDelta(out var d))
            {
                delta = d;
            }
        }

        var begin = start!.Message.Usage;
        Assert.Equal(50, begin.InputTokens);
        Assert.Equal(30, begin.CacheCreationInputTokens);
        Assert.Equal(10, begin.CacheCreation!.Ephemeral5mInputTokens);
        Assert.Equal(20, begin.CacheCreation.Ephemeral1hInputTokens);
        Assert.Equal(30, begin.CacheReadInputTokens);
        Assert.Equal(1, begin.OutputTokens);
        Assert.Equal(50, delta!.Usage.InputTokens);
        Assert.Equal(30, delta.Usage.CacheCreationInputTokens);
        Assert.Equal(30, delta.Usage.CacheReadInputTokens);
        Assert.Equal(400, delta.Usage.OutputTokens);
    }

    [Fact]
    public async Task A_cut_stream_throws_in_the_SDK_after_the_events_sent()
    {
        Server.Enqueue(FakeReply.Stream().WithCutAfterEvents(3));
        var seen = new List<string>();

        var ex = await Record.ExceptionAsync(async () =>
        {
            await foreach (var ev in Client.Messages.CreateStreaming(Ask()))
            {
                seen.Add(ev.Type.Raw());
            }
        });

        // SDK quirk: a cut stream surfaces as a raw IOException (connection reset), not as an AnthropicIOException.
        Assert.IsType<IOException>(ex, exactMatch: false);
        Assert.Equal(["message_start", "content_block_start"], seen); // the third event is the ping, which the SDK skips
        Assert.DoesNotContain("message_stop", seen);
    }

    [Fact]
    public async Task A_stream_cut_after_its_last_event_still_ends_abruptly()
    {
        Server.Enqueue(FakeReply.Stream().WithCutAfterEvents(100));

        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            await foreach (var ev in Client.Messages.CreateStreaming(Ask()))
            {
                _ = ev;
            }
        });
    }

    [Fact]
    public async Task Mid_stream_error_event_surfaces_as_AnthropicSseException()
    {
        Server.Enqueue(FakeReply.Stream("streaming/error-midstream.sse"));

        var ex = await Assert.ThrowsAsync<AnthropicSseException>(async () =>
        {
            await foreach (var ev in Client.Messages.CreateStreaming(Ask()))
            {
                _ = ev;
            }
        });

        Assert.Equal("Overloaded", ex.ApiMessage);
    }

    [Fact]
    public async Task Malformed_first_event_throws_in_the_SDK()
    {
        Server.Enqueue(FakeReply.Stream().WithMalformedBody());

        await Assert.ThrowsAsync<AnthropicInvalidDataException>(async () =>
        {
            await foreach (var ev in Client.Messages.CreateStreaming(Ask()))
            {
                _ = ev;
            }
        });
    }

    [Fact]
    public async Task Events_arrive_one_by_one_with_the_event_delay()
    {
        Server.Enqueue(FakeReply.Stream().WithEventDelay(TimeSpan.FromMilliseconds(20)));
        var arrivals = new List<long>();

        await foreach (var ev in Client.Messages.CreateStreaming(Ask()))
        {
            _ = ev;
            arrivals.Add(TimeProvider.System.GetTimestamp());
        }

        // 12 events with 11 gaps of 20 ms on the server; the SDK yields 11 (it skips the ping), spread out, not in one burst.
        Assert.Equal(11, arrivals.Count);
        Assert.True(TimeProvider.System.GetElapsedTime(arrivals[0], arrivals[^1]) >= TimeSpan.FromMilliseconds(150));
    }
}
