using System.Globalization;
using System.Text.Json;

namespace ModelMix.Routing;

/// <summary>
/// Reads the confidences of a confidence cascade: from an answer that carries its own
/// (<c>{"answer": …, "confidence": 0..1}</c>, or an answer followed by a <c>{"confidence": …}</c> line) and from a
/// verifier's rating (<c>{"confidence": 0..1}</c> or a bare number). A confidence outside 0 to 1 counts as missing.
/// </summary>
internal static class CascadeConfidenceParser
{
    /// <summary>
    /// Splits a structured answer into the answer text and its confidence. When no confidence can be read, the whole
    /// text is the answer and the confidence is null.
    /// </summary>
    /// <param name="text">The model's answer text.</param>
    /// <param name="answer">The answer without the confidence wrapper.</param>
    /// <param name="confidence">The confidence, 0 to 1, or null when missing or out of range.</param>
    /// <returns>Whether a confidence was read.</returns>
    public static bool TryParseAnswer(string? text, out string answer, out double? confidence)
    {
        answer = text ?? string.Empty;
        confidence = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var body = StripFence(text.Trim());
        if (body.StartsWith('{') && TryParseObject(body, out var root))
        {
            var whole = root;
            if (whole.ValueKind == JsonValueKind.Object && TryGetProperty(whole, "answer", out var answerElement))
            {
                answer = answerElement.ValueKind == JsonValueKind.String ? answerElement.GetString() ?? string.Empty : answerElement.GetRawText();
                confidence = ReadConfidence(whole);
                return confidence is not null;
            }
        }

        // An answer followed by a trailing {"confidence": …} object.
        var trimmed = text.TrimEnd();
        if (trimmed.EndsWith('}'))
        {
            var start = trimmed.LastIndexOf('{');
            if (start >= 0 && TryParseObject(trimmed[start..], out var tail) && ReadConfidence(tail) is { } trailing)
            {
                answer = StripFence(trimmed[..start].TrimEnd()).TrimEnd();
                confidence = trailing;
                return true;
            }
        }

        return false;
    }

    /// <summary>Reads a verifier's rating: <c>{"confidence": x}</c> (or <c>score</c>/<c>rating</c>), or a bare number.</summary>
    /// <param name="text">The verifier's answer text.</param>
    /// <param name="confidence">The rating, 0 to 1.</param>
    /// <returns>Whether a rating in range was read.</returns>
    public static bool TryParseRating(string? text, out double confidence)
    {
        confidence = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var body = StripFence(text.Trim());
        if (double.TryParse(body, NumberStyles.Float, CultureInfo.InvariantCulture, out var bare))
        {
            confidence = bare;
            return IsProbability(bare);
        }

        var start = body.IndexOf('{', StringComparison.Ordinal);
        var end = body.LastIndexOf('}');
        if (start >= 0 && end > start && TryParseObject(body[start..(end + 1)], out var root) && ReadConfidence(root) is { } rated)
        {
            confidence = rated;
            return true;
        }

        return false;
    }

    private static double? ReadConfidence(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (var name in (ReadOnlySpan<string>)["confidence", "score", "rating"])
        {
            if (!TryGetProperty(element, name, out var value))
            {
                continue;
            }

            double number;
            if (value.ValueKind == JsonValueKind.Number)
            {
                number = value.GetDouble();
            }
            else if (value.ValueKind != JsonValueKind.String || !double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out number))
            {
                return null;
            }

            return IsProbability(number) ? number : null;
        }

        return null;
    }

    private static bool TryGetProperty(JsonElement element, string name, out JsonElement value)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    private static bool TryParseObject(string json, out JsonElement element)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            element = document.RootElement.Clone();
            return true;
        }
        catch (JsonException)
        {
            element = default;
            return false;
        }
    }

    private static string StripFence(string text)
    {
        if (!text.StartsWith("```", StringComparison.Ordinal))
        {
            return text;
        }

        var firstLine = text.IndexOf('\n', StringComparison.Ordinal);
        var close = text.LastIndexOf("```", StringComparison.Ordinal);
        return firstLine > 0 && close > firstLine ? text[(firstLine + 1)..close].Trim() : text;
    }

    private static bool IsProbability(double value) => value >= 0 && value <= 1;
}
