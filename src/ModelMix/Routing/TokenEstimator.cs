using System.Text;

namespace ModelMix.Routing;

/// <summary>
/// A cheap, allocation-free estimate of how many tokens a text costs, for routing thresholds (≈ 8K, ≈ 20K) rather
/// than billing: Claude's tokenizers average about 3.5 characters, or 4 UTF-8 bytes, per token of English prose and
/// code. The estimate is rounded up and is usually within ±25% of the real count on prose; bills always use the
/// <c>usage</c> the API returns.
/// </summary>
public static class TokenEstimator
{
    /// <summary>The characters per token assumed by <see cref="Estimate(ReadOnlySpan{char})"/>.</summary>
    public const double CharsPerToken = 3.5;

    /// <summary>The UTF-8 bytes per token assumed by <see cref="EstimateUtf8"/>.</summary>
    public const int Utf8BytesPerToken = 4;

    /// <summary>Estimates the tokens of a text as ⌈characters ÷ 3.5⌉.</summary>
    /// <param name="text">The text as the door holds it.</param>
    public static long Estimate(ReadOnlySpan<char> text) => (((long)text.Length * 2) + 6) / 7;

    /// <summary>Estimates the tokens of a text as ⌈characters ÷ 3.5⌉; 0 for null.</summary>
    /// <param name="text">The text, or null.</param>
    public static long Estimate(string? text) => text is null ? 0 : Estimate(text.AsSpan());

    /// <summary>Estimates the tokens of UTF-8 bytes (e.g. a raw request body's text) as ⌈bytes ÷ 4⌉.</summary>
    /// <param name="utf8">The UTF-8 encoded text.</param>
    public static long EstimateUtf8(ReadOnlySpan<byte> utf8) => ((long)utf8.Length + Utf8BytesPerToken - 1) / Utf8BytesPerToken;

    /// <summary>
    /// Estimates the tokens of an image from its size as Anthropic documents it: width × height ÷ 750, rounded up.
    /// </summary>
    /// <param name="width">Width in pixels.</param>
    /// <param name="height">Height in pixels.</param>
    public static long EstimateImage(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        ArgumentOutOfRangeException.ThrowIfNegative(height);
        return (((long)width * height) + 749) / 750;
    }

    /// <summary>Counts the UTF-8 bytes of a text without encoding it, then estimates as <see cref="EstimateUtf8"/> does.</summary>
    /// <param name="text">The text.</param>
    public static long EstimateFromUtf8Length(ReadOnlySpan<char> text) =>
        ((long)Encoding.UTF8.GetByteCount(text) + Utf8BytesPerToken - 1) / Utf8BytesPerToken;
}
