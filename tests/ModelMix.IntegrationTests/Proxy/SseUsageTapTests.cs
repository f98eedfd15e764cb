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
