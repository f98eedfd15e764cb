using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Budgets;

/// <summary>
/// The worst-case cost of a Messages API request before it is sent, which is what a budget reserves: the input
/// estimated from the body (<see cref="TokenEstimator.EstimateUtf8"/>: one token per 4 bytes of the JSON body,
/// markup included) at the dearest input rate the body can incur, plus <c>max_tokens</c> at the output rate; the
/// model's long-context rates when that estimate crosses its threshold, and the fast-mode and data-residency
/// multipliers when the body mentions <c>speed</c> or <c>inference_geo</c>.
/// </summary>
/// <remarks>
/// The output part is a true bound (the API never returns more than <c>max_tokens</c>). The input part is an
/// estimate: JSON markup makes it generous for English text and code and very generous for images (base64), but
/// dense non-Latin text can tokenize tighter than 4 bytes per token. The budget always settles to the real recorded
/// cost, so an underestimate can only let one in-flight request finish a little past the cap; it never goes unbilled.
/// </remarks>
public static class BudgetEstimator
{
    /// <summary>The worst-case cost in USD of sending <paramref name="body"/> to <paramref name="model"/> at <paramref name="at"/>.</summary>
    /// <exception cref="UnknownModelException">The model has no price in force at <paramref name="at"/>.</exception>
    public static decimal WorstCaseUsd(PriceBook prices, string model, ReadOnlySpan<byte> body, long maxTokens, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(prices);
        var inputTokens = TokenEstimator.EstimateUtf8(body);
        var price = prices.GetPrice(model, at);

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

        const decimal PerMillion = 1_000_000m;
        return ((inputTokens * inputRate) + (Math.Max(0, maxTokens) * output)) / PerMillion * multiplier;
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
