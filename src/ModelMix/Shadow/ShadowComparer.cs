using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ModelMix.Shadow;

/// <summary>The deterministic comparisons of a pair: normalized exact match and JSON-field match.</summary>
internal static class ShadowComparer
{
    /// <summary>1 when the two answers are equal after <see cref="Normalize"/>, else 0.</summary>
    public static double Exact(string live, string shadow) =>
        string.Equals(Normalize(live), Normalize(shadow), StringComparison.Ordinal) ? 1.0 : 0.0;

    /// <summary>Lower case (invariant), whitespace runs collapsed, surrounding quotes and trailing <c>.!</c> removed.</summary>
    public static string Normalize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var builder = new StringBuilder(text.Length);
        var space = false;
        foreach (var c in text.Trim())
        {
            if (char.IsWhiteSpace(c))
            {
                space = true;
                continue;
            }

            if (space && builder.Length > 0)
            {
                builder.Append(' ');
            }

            space = false;
            builder.Append(char.ToLowerInvariant(c));
        }

        return builder.ToString().Trim('"', '\'', '`').TrimEnd('.', '!').Trim();
    }

    /// <summary>
    /// The share of <paramref name="fields"/> (dotted paths; empty: the union of both objects' top-level fields) whose
    /// values are equal JSON. When the live answer is not a JSON object the exact match is used; when only the shadow
    /// answer is not, the score is 0.
    /// </summary>
    public static double Json(string live, string shadow, IReadOnlyList<string> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        using var liveDocument = TryParseObject(live);
        if (liveDocument is null)
        {
            return Exact(live, shadow);
        }

        using var shadowDocument = TryParseObject(shadow);
        if (shadowDocument is null)
        {
            return 0.0;
        }

        var paths = fields.Count > 0
            ? fields
            : liveDocument.RootElement.EnumerateObject().Select(p => p.Name)
                .Union(shadowDocument.RootElement.EnumerateObject().Select(p => p.Name), StringComparer.Ordinal).ToList();
        if (paths.Count == 0)
        {
            return 1.0;
        }

        var equal = 0;
        foreach (var path in paths)
        {
            var a = Find(liveDocument.RootElement, path);
            var b = Find(shadowDocument.RootElement, path);
            if (a is null && b is null)
            {
                equal++;
            }
            else if (a is { } x && b is { } y && JsonElement.DeepEquals(x, y))
            {
                equal++;
            }
        }

        return (double)equal / paths.Count;
    }

    /// <summary>Reads the judge's score (a bare number, or <c>{"score": x}</c>) in [0, 1].</summary>
    public static bool TryParseScore(string? text, out double score)
    {
        if (Routing.CascadeConfidenceParser.TryParseRating(text, out score))
        {
            return true;
        }

        // A number somewhere in a short sentence ("Score: 0.8").
        foreach (var token in (text ?? string.Empty).Split([' ', '\n', ':', '=', ','], StringSplitOptions.RemoveEmptyEntries))
        {
            if (double.TryParse(token.TrimEnd('.'), NumberStyles.Float, CultureInfo.InvariantCulture, out score) && score is >= 0 and <= 1)
            {
                return true;
            }
        }

        score = 0;
        return false;
    }

    private static JsonDocument? TryParseObject(string text)
    {
        var body = text.Trim();
        if (body.StartsWith("```", StringComparison.Ordinal))
        {
            var start = body.IndexOf('\n', StringComparison.Ordinal);
            var end = body.LastIndexOf("```", StringComparison.Ordinal);
            body = start >= 0 && end > start ? body[(start + 1)..end] : body;
        }

        var open = body.IndexOf('{', StringComparison.Ordinal);
        var close = body.LastIndexOf('}');
        if (open < 0 || close <= open)
        {
            return null;
        }

        try
        {
            var document = JsonDocument.Parse(body[open..(close + 1)]);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }

            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static JsonElement? Find(JsonElement root, string path)
    {
        var current = root;
        foreach (var part in path.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(part, out current))
            {
                return null;
            }
        }

        return current;
    }
}
