using System.Globalization;

namespace ModelMix.Pipeline;

/// <summary>
/// An HTTP handler that makes a 429's (or 529's) <c>retry-after</c> visible to <see cref="FallbackChatClient"/>. The
/// Anthropic SDK's exceptions carry the status and body but not the headers, so without this handler the fallback
/// stage backs off with jittered exponential delays instead of the server's retry-after.
/// </summary>
/// <remarks>
/// Add one instance per <c>AnthropicClient</c>:
/// <c>new AnthropicClient(new ClientOptions { Handlers = [new FallbackRetryAfterHandler()], MaxRetries = 0 })</c>.
/// The handler only reads headers; it never changes a request or response. Outside a fallback stage's attempt it
/// does nothing.
/// </remarks>
public sealed class FallbackRetryAfterHandler : DelegatingHandler
{
    private static readonly AsyncLocal<Slot?> s_current = new();
    private readonly TimeProvider _time;

    /// <summary>Creates the handler.</summary>
    /// <param name="timeProvider">The clock an HTTP-date retry-after is measured against; the system clock when <c>null</c>.</param>
    public FallbackRetryAfterHandler(TimeProvider? timeProvider = null) => _time = timeProvider ?? TimeProvider.System;

    /// <summary>The slot of the attempt running on this async flow, set by the fallback stage.</summary>
    internal static Slot? Current
    {
        get => s_current.Value;
        set => s_current.Value = value;
    }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode && s_current.Value is { } slot && TryGetRetryAfter(response, _time.GetUtcNow(), out var delay))
        {
            slot.RetryAfter = delay;
        }

        return response;
    }

    /// <summary>Reads <c>retry-after-ms</c> (milliseconds) or <c>retry-after</c> (seconds or an HTTP date).</summary>
    /// <param name="response">The error response.</param>
    /// <param name="now">The current time, for an HTTP-date value.</param>
    /// <param name="delay">The delay when the method returns <c>true</c>.</param>
    internal static bool TryGetRetryAfter(HttpResponseMessage response, DateTimeOffset now, out TimeSpan delay)
    {
        // Stryker disable once Linq : equivalent (docs/testing.md, fallback): TryGetValues found the header, so its values are never empty: First and FirstOrDefault give the same value
        if (response.Headers.TryGetValues("retry-after-ms", out var values)
            && double.TryParse(values.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms)
            && ms >= 0 && ms < TimeSpan.MaxValue.TotalMilliseconds)
        {
            delay = TimeSpan.FromMilliseconds(ms);
            return true;
        }

        switch (response.Headers.RetryAfter)
        {
            case { Delta: { } delta } when delta >= TimeSpan.Zero:
                delay = delta;
                return true;
            case { Date: { } date }:
                // Stryker disable once Equality : equivalent (docs/testing.md, fallback): at date == now both give a zero wait; also drops `>` → `<`, which FallbackRetryAfterHandlerTests kills
                delay = date > now ? date - now : TimeSpan.Zero;
                return true;
            default:
                delay = default;
                return false;
        }
    }

    /// <summary>Where the handler leaves the retry-after of the attempt in progress.</summary>
    internal sealed class Slot
    {
        private long _ticks = -1;

        /// <summary>The last retry-after seen, or <c>null</c>.</summary>
        public TimeSpan? RetryAfter
        {
            get => Interlocked.Read(ref _ticks) is var ticks and >= 0 ? TimeSpan.FromTicks(ticks) : null;
            set => Interlocked.Exchange(ref _ticks, value?.Ticks ?? -1);
        }
    }
}
