using System.Text.Json;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Budgets;

/// <summary>
/// The worst-case cost of a Messages API request before it is sent, which is what a budget reserves: the input
/// estimated from the body (<see cref="TokenEstimator.EstimateUtf8"/>: one token per 4 bytes of the JSON body,
/// markup included) at the dearest input rate the body can incur, plus <c>max_tokens</c> at the output rate; the
/// model's long-context rates when that estimate crosses its threshold, and the fast-mode and data-residency
/// multipliers when the body mentions <c>speed</c> or <c>inference_geo</c>; plus, for every server tool the body
/// declares in <c>tools</c> (<see cref="ServerToolsWorstCaseUsd"/>), its fee for <c>max_uses</c> uses (or
/// <see cref="AssumedUsesWithoutMaxUses"/>) and, for web fetch with <c>max_content_tokens</c>, that content as input;
/// and, for every image or document the upstream loads itself from a URL or a Files API file
/// (<see cref="ReferencedInputTokens"/>), its documented worst case as input, the whole capped at the model's
/// context window.
/// </summary>
/// <remarks>
/// The output part is a true bound (the API never returns more than <c>max_tokens</c>). The input part is an
/// estimate: JSON markup makes it generous for English text and code and very generous for images (base64), but
/// dense non-Latin text can tokenize tighter than 4 bytes per token. The budget always settles to the real recorded
/// cost, so an underestimate can only let one in-flight request finish a little past the cap; it never goes unbilled.
/// </remarks>
internal static class BudgetEstimator
{
    /// <summary>
    /// The uses a server tool declared without <c>max_uses</c> is held for. The API sets no limit of its own then, so
    /// this is an assumption, not a bound: a request that needs its hold to be a bound declares <c>max_uses</c>.
    /// </summary>
    public const int AssumedUsesWithoutMaxUses = 10;

    /// <summary>The worst-case cost in USD of sending <paramref name="body"/> to <paramref name="model"/> at <paramref name="at"/>.</summary>
    /// <exception cref="UnknownModelException">The model has no price in force at <paramref name="at"/>.</exception>
    public static decimal WorstCaseUsd(PriceBook prices, string model, ReadOnlySpan<byte> body, long maxTokens, DateTimeOffset at) =>
        WorstCaseUsd(prices, model, body, maxTokens, at, batch: false);

    /// <summary>
    /// The worst case of <paramref name="body"/> sent through the Message Batches API when <paramref name="batch"/> is
    /// true: every token at the book's <see cref="PriceBook.BatchMultiplier"/>, server-tool fees at their full per-use
    /// price (the batch discount applies to tokens, not to them).
    /// </summary>
    /// <exception cref="UnknownModelException">The model has no price in force at <paramref name="at"/>.</exception>
    public static decimal WorstCaseUsd(PriceBook prices, string model, ReadOnlySpan<byte> body, long maxTokens, DateTimeOffset at, bool batch)
    {
        ArgumentNullException.ThrowIfNull(prices);
        var price = prices.GetPrice(model, at);
        var inputTokens = TokenEstimator.EstimateUtf8(body);
        var referenced = ReferencedInputTokens(body);
        // Stryker disable once Equality : equivalent (docs/testing.md, budgets): at 0 referenced tokens the branch adds nothing (Max(n, Min(n + 0, window)) is n)
        if (referenced > 0)
        {
            // Content the upstream fetches or loads itself (a URL, a Files API file) is input the body does not show.
            // No prompt can exceed the model's context window, so that bounds it when the catalog knows the window.
            var window = prices.TryGetEntry(model, out var entry) && entry.ContextWindow is { } known ? known : long.MaxValue;
            inputTokens = Math.Max(inputTokens, Math.Min(inputTokens + referenced, window));
        }

        decimal input, output, cacheWrite5m, cacheWrite1h;
        if (price.LongContext is { } longContext && inputTokens > longContext.ThresholdTokens)
        {
            (input, output, cacheWrite5m, cacheWrite1h) = (longContext.Input, longContext.Output, longContext.CacheWrite5m, longContext.CacheWrite1h);
        }
        else
        {
            (input, output, cacheWrite5m, cacheWrite1h) = (price.Input, price.Output, price.CacheWrite5m, price.CacheWrite1h);
        }

        // A body with cache_control may write every input token to the cache, which costs more than plain input.
        var inputRate = body.IndexOf("\"cache_control\""u8) >= 0 ? Math.Max(input, Math.Max(cacheWrite5m, cacheWrite1h)) : input;
        var multiplier = 1m;
        if (price.FastMultiplier is { } fast && body.IndexOf("\"speed\""u8) >= 0)
        {
            multiplier *= fast;
        }

        if (body.IndexOf("\"inference_geo\""u8) >= 0)
        {
            multiplier *= prices.InferenceGeoMultipliers.Values.DefaultIfEmpty(1m).Max();
        }

        if (batch)
        {
            multiplier *= prices.BatchMultiplier;
        }

        const decimal PerMillion = 1_000_000m;
        var tokens = ((inputTokens * inputRate) + (Math.Max(0, maxTokens) * output)) / PerMillion * multiplier;
        return tokens + ServerToolsWorstCaseUsd(prices, body, inputRate * multiplier, at);
    }

    /// <summary>
    /// The input tokens held for an image the upstream loads from a URL or a Files API file (a content block
    /// <c>{"type":"image","source":{"type":"url"|"file",…}}</c>): an image costs about width × height / 750 tokens,
    /// and the API scales down any image past its model's limit (1,568 px on the long edge, ~1,600 tokens; the
    /// high-resolution tier of newer models, 3.75 MP) before it is read, so 3,750,000 / 750 = 5,000 tokens bounds any
    /// one image (docs/keys-and-budgets.md, "Referenced documents and images").
    /// </summary>
    public const long ReferencedImageTokens = 5_000;

    /// <summary>
    /// The pages held for a document the upstream loads from a URL or a Files API file (a content block
    /// <c>{"type":"document","source":{"type":"url"|"file",…}}</c>): the API's limit on PDF pages per request — 600
    /// (100 when the request's context window is under 1M tokens).
    /// </summary>
    public const long ReferencedDocumentPages = 600;

    /// <summary>
    /// The input tokens held per page of a referenced document: each PDF page is read as an image
    /// (<see cref="ReferencedImageTokens"/>) plus its extracted text, held for another 5,000.
    /// </summary>
    public const long ReferencedDocumentTokensPerPage = 10_000;

    /// <summary>
    /// The input the upstream adds to <paramref name="body"/> by loading referenced content: every content block —
    /// in any message, tool result or nested block — whose <c>source</c> is a <c>url</c> or a Files API <c>file</c>:
    /// <see cref="ReferencedImageTokens"/> for an image, <see cref="ReferencedDocumentPages"/> ×
    /// <see cref="ReferencedDocumentTokensPerPage"/> for a document or any other block. Inline sources (base64, text,
    /// content) are in the body already and add nothing. <see cref="WorstCaseUsd(PriceBook, string, ReadOnlySpan{byte}, long, DateTimeOffset, bool)"/>
    /// caps the request's input at the model's context window, which no prompt exceeds. 0 when there is none.
    /// </summary>
    public static long ReferencedInputTokens(ReadOnlySpan<byte> body)
    {
        // A source object (or an escaped name that could spell one) must be present; most bodies are skipped here.
        // Stryker disable once Equality,Block : equivalent (docs/testing.md, budgets): a body starting with "source" or "\u" is not JSON (the parse gives 0 too), and without either no property can be named source, so the parse finds nothing either
        if (body.IndexOf("source"u8) < 0 && body.IndexOf("\\u"u8) < 0)
        {
            return 0;
        }

        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
            using var document = JsonDocument.ParseValue(ref reader);
            return Referenced(document.RootElement);
        }
        catch (JsonException)
        // Stryker disable once Block : equivalent (docs/testing.md, budgets): the emptied catch falls through to the return default Stryker adds, 0 as well
        {
            return 0; // malformed JSON is refused before it is sent (the proxy parses the body first)
        }
    }

    private static long Referenced(JsonElement element)
    {
        long total = 0;
        switch (element.ValueKind)
        {
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    total = Add(total, Referenced(item));
                }

                break;
            case JsonValueKind.Object:
                if (element.TryGetProperty("source", out var source) && source.ValueKind == JsonValueKind.Object
                    && source.TryGetProperty("type", out var sourceType) && sourceType.ValueKind == JsonValueKind.String
                    && (sourceType.ValueEquals("url"u8) || sourceType.ValueEquals("file"u8)))
                {
                    var image = element.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.ValueEquals("image"u8);
                    total = Add(total, image ? ReferencedImageTokens : ReferencedDocumentPages * ReferencedDocumentTokensPerPage);
                }

                foreach (var property in element.EnumerateObject())
                {
                    total = Add(total, Referenced(property.Value));
                }

                break;
        }

        return total;
    }

    // Stryker disable once Equality,Conditional : equivalent (docs/testing.md, budgets): at a == MaxValue - b both give MaxValue; an overflow needs over 9.2e18 referenced tokens, 1.5e12 documents in one body
    private static long Add(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    /// <summary>
    /// The worst case of the server tools <paramref name="body"/> declares in its top-level <c>tools</c>: each priced
    /// tool (<see cref="ServerTool"/>, by its type prefix: <c>web_search_…</c>, <c>web_fetch_…</c>) costs its per-use
    /// price in force at <paramref name="at"/> times its <c>max_uses</c> (<see cref="AssumedUsesWithoutMaxUses"/>
    /// when absent), and a web fetch tool with <c>max_content_tokens</c> adds that many input tokens per use at
    /// <paramref name="inputRatePerMTok"/> (USD per million tokens, modifiers included). Search results and fetches
    /// without <c>max_content_tokens</c> add input that no request field bounds; they are not held (the budget settles
    /// to the recorded cost). 0 when the body declares no such tool.
    /// </summary>
    /// <exception cref="PricingException">The body declares a server tool the price book has no price for at <paramref name="at"/>.</exception>
    public static decimal ServerToolsWorstCaseUsd(PriceBook prices, ReadOnlySpan<byte> body, decimal inputRatePerMTok, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(prices);

        // A tools array (or an escaped name that could spell one) must be present; most bodies are skipped here.
        // Stryker disable once Equality,Block : equivalent (docs/testing.md, budgets): a body starting with "tools" or "\u" is not JSON (the reader throws, 0 too), and without either no property can be named tools, so the read finds nothing either
        if (body.IndexOf("tools"u8) < 0 && body.IndexOf("\\u"u8) < 0)
        {
            return 0m;
        }

        var total = 0m;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
        try
        {
            // Stryker disable once Logical,Block : equivalent (docs/testing.md, budgets): a body that is not an object has no property name to read next either, so the loop below holds nothing
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return 0m;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isTools = reader.ValueTextEquals("tools"u8);
                reader.Read();
                if (!isTools || reader.TokenType != JsonTokenType.StartArray)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        reader.Skip();
                        continue;
                    }

                    total += ToolWorstCase(prices, ref reader, inputRatePerMTok, at);
                }
            }
        }
        catch (JsonException)
        {
            // Malformed JSON is refused before it is sent (the proxy parses the body first); nothing more to hold.
        }

        return total;
    }

    /// <summary>One tool object's worst case; the reader is on its start and is left on its end.</summary>
    private static decimal ToolWorstCase(PriceBook prices, ref Utf8JsonReader reader, decimal inputRatePerMTok, DateTimeOffset at)
    {
        string? type = null;
        long? maxUses = null, maxContentTokens = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                type = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("max_uses"u8))
            {
                reader.Read();
                maxUses = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var uses) && uses >= 0 ? uses : null;
            }
            else if (reader.ValueTextEquals("max_content_tokens"u8))
            {
                reader.Read();
                // Stryker disable once Equality : equivalent (docs/testing.md, budgets): max_content_tokens 0 holds 0 content, as no max_content_tokens does
                maxContentTokens = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var tokens) && tokens >= 0 ? tokens : null;
            }
            else
            // Stryker disable once Block : equivalent (docs/testing.md, budgets): the block holds only the Read below, equivalent for the reason given there
            {
                // Stryker disable once Statement : equivalent (docs/testing.md, budgets): the Skip below, on a property name, moves to its value and skips it itself
                reader.Read();
            }

            reader.Skip(); // a nested value (allowed_domains, user_location, …); a no-op on a scalar
        }

        if (type is null)
        {
            return 0m;
        }

        foreach (var tool in ServerToolUse.All)
        {
            if (!type.StartsWith(ServerToolUse.ToolTypePrefix(tool), StringComparison.Ordinal))
            {
                continue;
            }

            if (!prices.TryGetServerToolPrice(tool, at, out var price))
            {
                throw new PricingException(
                    $"The request declares the server tool '{type}', whose uses (usage.server_tool_use.{ServerToolUse.UsageField(tool)}) " +
                    $"have no price in force at {at.ToString("O", System.Globalization.CultureInfo.InvariantCulture)} in the price book " +
                    $"{prices.SourceName}, so its worst case cannot be held. Add a serverTools.{ServerToolUse.UsageField(tool)} price period.");
            }

            var uses = maxUses ?? AssumedUsesWithoutMaxUses;
            var fee = uses * price.PerUse;
            var content = tool == ServerTool.WebFetch && maxContentTokens is { } perFetch
                ? uses * perFetch * inputRatePerMTok / 1_000_000m
                : 0m;
            return fee + content;
        }

        return 0m;
    }

    /// <summary>
    /// The worst-case cost in USD of a call ModelMix makes itself (the meta-router's classification, the cascade's
    /// rating): a prompt of <paramref name="promptBytes"/> UTF-8 bytes, estimated like a body at one token per 4 bytes,
    /// at the plain input rate, plus at most <paramref name="maxOutputTokens"/> of output.
    /// </summary>
    /// <exception cref="UnknownModelException">The model has no price in force at <paramref name="at"/>.</exception>
    public static decimal PromptWorstCaseUsd(PriceBook prices, string model, long promptBytes, long maxOutputTokens, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(prices);
        var price = prices.GetPrice(model, at);
        var inputTokens = (promptBytes + TokenEstimator.Utf8BytesPerToken - 1) / TokenEstimator.Utf8BytesPerToken;
        return ((inputTokens * price.Input) + (maxOutputTokens * price.Output)) / 1_000_000m;
    }
}
