using System.Globalization;
using System.Net;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;
using ModelMix.Pipeline;

namespace ModelMix.Tests.Fallback;

/// <summary>
/// Survivors of the fallback area listed as equivalent in docs/testing.md that a test can tell apart (found while
/// marking the equivalent ones in the source): <c>retry-after-ms</c> at exactly <see cref="TimeSpan.MaxValue"/>'s
/// milliseconds is out of range (<c>&lt;</c> → <c>&lt;=</c> accepted it as a wait of <see cref="TimeSpan.MaxValue"/>),
/// and the chain judges its entries on the stage's clock (<c>fit ?? new ModelFit(prices)</c> → <c>new ModelFit(prices)</c>
/// dropped the fit the stage builds on <see cref="FallbackOptions.TimeProvider"/> for one on the system clock).
/// </summary>
public sealed class FallbackMarkSurvivorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 10, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_retry_after_ms_of_timespan_max_value_gives_way_to_retry_after()
    {
        // The round-trip text parses back to exactly TimeSpan.MaxValue.TotalMilliseconds.
        var max = TimeSpan.MaxValue.TotalMilliseconds.ToString("R", CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.MaxValue.TotalMilliseconds, double.Parse(max, CultureInfo.InvariantCulture));
        using var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        response.Headers.TryAddWithoutValidation("retry-after-ms", max);
        response.Headers.TryAddWithoutValidation("retry-after", "7");

        Assert.True(FallbackRetryAfterHandler.TryGetRetryAfter(response, Now, out var delay));
        Assert.Equal(TimeSpan.FromSeconds(7), delay);
    }

    [Fact]
    public async Task A_chain_entry_is_judged_on_the_stage_s_clock()
    {
        // Claude Sonnet 4.5 retires on 2026-11-30 (the embedded catalog). On the stage's clock, 2026-06-01, it is still
        // served, so a failed Haiku 4.5 falls back to it as listed; judged on the system clock (past its retirement) it
        // would be passed over for its fit.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero));
        var inner = new FailsOnceClient();
        using var client = new FallbackChatClient(inner, new FallbackOptions
        {
            TimeProvider = time,
            Chain = ["claude-haiku-4-5", "claude-sonnet-4-5"],
            MaxRetriesPerModel = 0,
        });

        var response = await client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-haiku-4-5" });

        Assert.Equal("ok", response.Text);
        Assert.Equal(["claude-haiku-4-5", "claude-sonnet-4-5"], inner.Models);
    }
}
