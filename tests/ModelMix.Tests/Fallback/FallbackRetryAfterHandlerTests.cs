using System.Net;
using ModelMix.Pipeline;

namespace ModelMix.Tests.Pipeline;

/// <summary>
/// How <see cref="FallbackRetryAfterHandler"/> reads a wait from an error response. Written from mutation testing
/// (docs/testing.md): the boundaries (a zero wait, a date already past) and the empty slot survived.
/// </summary>
public sealed class FallbackRetryAfterHandlerTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 10, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("1500", 1500)]
    [InlineData("0", 0)]        // a zero wait is a wait (retry at once), not "no header"
    [InlineData("2.5", 2.5)]
    public void Retry_after_ms_is_read_in_milliseconds(string value, double ms)
    {
        using var response = Answer(("retry-after-ms", value), ("retry-after", "60"));

        Assert.True(FallbackRetryAfterHandler.TryGetRetryAfter(response, Now, out var delay));
        Assert.Equal(TimeSpan.FromMilliseconds(ms), delay);
    }

    [Theory]
    [InlineData("-5")]
    [InlineData("soon")]
    public void A_retry_after_ms_that_is_negative_or_not_a_number_gives_way_to_retry_after(string value)
    {
        using var response = Answer(("retry-after-ms", value), ("retry-after", "7"));

        Assert.True(FallbackRetryAfterHandler.TryGetRetryAfter(response, Now, out var delay));
        Assert.Equal(TimeSpan.FromSeconds(7), delay);
    }

    [Fact]
    public void Retry_after_of_zero_seconds_is_a_zero_wait()
    {
        using var response = Answer(("retry-after", "0"));

        Assert.True(FallbackRetryAfterHandler.TryGetRetryAfter(response, Now, out var delay));
        Assert.Equal(TimeSpan.Zero, delay);
    }

    [Fact]
    public void An_http_date_is_measured_from_now_and_a_past_one_is_no_wait()
    {
        using var future = Answer(("retry-after", Now.AddSeconds(90).ToString("R")));
        using var past = Answer(("retry-after", Now.AddSeconds(-90).ToString("R")));

        Assert.True(FallbackRetryAfterHandler.TryGetRetryAfter(future, Now, out var ahead));
        Assert.Equal(TimeSpan.FromSeconds(90), ahead);
        Assert.True(FallbackRetryAfterHandler.TryGetRetryAfter(past, Now, out var behind));
        Assert.Equal(TimeSpan.Zero, behind);
    }

    [Fact]
    public void No_header_is_no_wait()
    {
        using var response = Answer();

        Assert.False(FallbackRetryAfterHandler.TryGetRetryAfter(response, Now, out _));
    }

    [Fact]
    public void A_slot_is_empty_until_set_and_empty_again_when_cleared()
    {
        var slot = new FallbackRetryAfterHandler.Slot();
        Assert.Null(slot.RetryAfter);

        slot.RetryAfter = TimeSpan.Zero;
        Assert.Equal(TimeSpan.Zero, slot.RetryAfter);
        slot.RetryAfter = TimeSpan.FromSeconds(2);
        Assert.Equal(TimeSpan.FromSeconds(2), slot.RetryAfter);
        slot.RetryAfter = null;
        Assert.Null(slot.RetryAfter);
    }

    private static HttpResponseMessage Answer(params (string Name, string Value)[] headers)
    {
        var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        foreach (var (name, value) in headers)
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }

        return response;
    }
}
