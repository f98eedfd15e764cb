using System.Text.Json;

namespace ModelMix.Routing;

/// <summary>
/// What the meta-router's classifier answered, parsed: the tier it chose and its short reason, or why the answer
/// could not be used (not JSON, no tier, an unknown tier).
/// </summary>
/// <param name="Tier">The chosen tier as configured (e.g. <c>haiku</c>), or null when the answer was malformed.</param>
/// <param name="Reason">The classifier's reason (may be empty), or null when malformed.</param>
/// <param name="Error">Why the answer was malformed, or null when it parsed.</param>
internal sealed record MetaRouterClassification(string? Tier, string? Reason, string? Error)
{
    /// <summary>Whether the answer named an allowed tier.</summary>
    public bool IsValid => Error is null;

    /// <summary>
    /// Parses <c>{"tier":"haiku|sonnet|opus","reason":"…"}</c>. Surrounding prose or a Markdown code fence around
    /// the object is tolerated (some models add one even when asked not to); anything else is malformed.
    /// </summary>
    /// <param name="text">The classifier's answer text.</param>
    /// <param name="allowedTiers">The tiers it may choose; matched ignoring case, returned as configured.</param>
    public static MetaRouterClassification Parse(string? text, IReadOnlyCollection<string> allowedTiers)
    {
        ArgumentNullException.ThrowIfNull(allowedTiers);
        if (string.IsNullOrWhiteSpace(text))
        {
            return Malformed("empty answer");
        }

        var start = text.IndexOf('{', StringComparison.Ordinal);
        var end = text.LastIndexOf('}');
        if (start < 0 || end <= start)
        {
            return Malformed($"not JSON: '{Abbreviate(text)}'");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text.AsMemory(start, end - start + 1));
        }
        catch (JsonException)
        {
            return Malformed($"not JSON: '{Abbreviate(text)}'");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return Malformed("not a JSON object");
            }

            if (!TryGetString(document.RootElement, "tier", out var tier) || string.IsNullOrWhiteSpace(tier))
            {
                return Malformed("no 'tier'");
            }

            var allowed = allowedTiers.FirstOrDefault(t => string.Equals(t, tier.Trim(), StringComparison.OrdinalIgnoreCase));
            if (allowed is null)
            {
                return Malformed($"unknown tier '{Abbreviate(tier)}' (expected {string.Join(", ", allowedTiers)})");
            }

            TryGetString(document.RootElement, "reason", out var reason);
            return new MetaRouterClassification(allowed, reason?.Trim() ?? string.Empty, null);
        }
    }

    private static MetaRouterClassification Malformed(string error) => new(null, null, error);

    private static bool TryGetString(JsonElement element, string name, out string? value)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase) && property.Value.ValueKind == JsonValueKind.String)
            {
                value = property.Value.GetString();
                return true;
            }
        }

        value = null;
        return false;
    }

    private static string Abbreviate(string text)
    {
        var trimmed = text.Trim().ReplaceLineEndings(" ");
        return trimmed.Length <= 40 ? trimmed : string.Concat(trimmed.AsSpan(0, 40), "…");
    }
}
