using Microsoft.Extensions.AI;
using ModelMix.Pricing;
using SdkMessage = Anthropic.Models.Messages.Message;
using SdkStreamEvent = Anthropic.Models.Messages.RawMessageStreamEvent;

namespace ModelMix.Pipeline;

/// <summary>
/// Reads the billable usage of a chat call: exactly from the Anthropic SDK objects that <c>AsIChatClient</c> exposes as
/// <c>RawRepresentation</c>, otherwise approximately from Microsoft.Extensions.AI's <see cref="UsageDetails"/>.
/// </summary>
internal static class ChatUsage
{
    /// <summary>The <see cref="UsageDetails.AdditionalCounts"/> key the Anthropic SDK uses for cache-write tokens.</summary>
    public const string CacheCreationInputTokensKey = "CacheCreationInputTokens";

    /// <summary>The <see cref="UsageDetails.AdditionalCounts"/> key the Anthropic SDK uses for <c>server_tool_use.web_search_requests</c>.</summary>
    public const string WebSearchRequestsKey = "WebSearchRequests";

    /// <summary>The <see cref="UsageDetails.AdditionalCounts"/> key the Anthropic SDK uses for <c>server_tool_use.web_fetch_requests</c>.</summary>
    public const string WebFetchRequestsKey = "WebFetchRequests";

    /// <summary>The usage of a non-streaming response: the SDK message's when present, else <see cref="ChatResponse.Usage"/>.</summary>
    public static TokenUsage FromResponse(ChatResponse response) =>
        response.RawRepresentation is SdkMessage { Usage: { } usage } ? AnthropicUsage.FromSdk(usage)
        : response.Usage is { } details ? FromUsageDetails(details)
        : default;

    /// <summary>
    /// Approximates Anthropic usage from <see cref="UsageDetails"/>, where <see cref="UsageDetails.InputTokenCount"/>
    /// includes cached tokens: uncached input = input − cache reads − cache writes. Every cache write counts as a
    /// 5-minute write (the TTL split is not carried), and service tier, speed and inference geo are unknown (standard).
    /// Server-tool uses are read from the SDK's <see cref="UsageDetails.AdditionalCounts"/> keys
    /// (<see cref="WebSearchRequestsKey"/>, <see cref="WebFetchRequestsKey"/>), so they are priced on this path too.
    /// </summary>
    public static TokenUsage FromUsageDetails(UsageDetails details)
    {
        ArgumentNullException.ThrowIfNull(details);
        var cacheRead = Math.Max(0, details.CachedInputTokenCount ?? 0);
        var counts = details.AdditionalCounts;
        var cacheWrite = Count(counts, CacheCreationInputTokensKey);
        var input = Math.Max(0, (details.InputTokenCount ?? 0) - cacheRead - cacheWrite);
        return new TokenUsage(
            input,
            Math.Max(0, details.OutputTokenCount ?? 0),
            CacheWrite5mTokens: cacheWrite,
            CacheReadTokens: cacheRead,
            WebSearchRequests: Count(counts, WebSearchRequestsKey),
            WebFetchRequests: Count(counts, WebFetchRequestsKey));
    }

    private static long Count(AdditionalPropertiesDictionary<long>? counts, string key) =>
        counts is not null && counts.TryGetValue(key, out var value) ? Math.Max(0, value) : 0;

    /// <summary>Adds two approximate usages (a stream may report several <see cref="UsageContent"/> items).</summary>
    public static TokenUsage Add(in TokenUsage left, in TokenUsage right) => left with
    {
        InputTokens = left.InputTokens + right.InputTokens,
        OutputTokens = left.OutputTokens + right.OutputTokens,
        CacheWrite5mTokens = left.CacheWrite5mTokens + right.CacheWrite5mTokens,
        CacheWrite1hTokens = left.CacheWrite1hTokens + right.CacheWrite1hTokens,
        CacheReadTokens = left.CacheReadTokens + right.CacheReadTokens,
        WebSearchRequests = left.WebSearchRequests + right.WebSearchRequests,
        WebFetchRequests = left.WebFetchRequests + right.WebFetchRequests,
    };

    /// <summary>
    /// Folds one SDK stream event into the running usage: <c>message_start</c> sets it, <c>message_delta</c> merges
    /// its cumulative counts; returns <c>false</c> for any other event.
    /// </summary>
    public static bool TryApply(ref TokenUsage current, SdkStreamEvent streamEvent)
    {
        if (streamEvent.TryPickStart(out var start) && start?.Message?.Usage is { } startUsage)
        {
            current = AnthropicUsage.FromSdk(startUsage);
            return true;
        }

        if (streamEvent.TryPickDelta(out var delta) && delta?.Usage is { } deltaUsage)
        {
            current = AnthropicUsage.MergeDelta(current, deltaUsage);
            return true;
        }

        return false;
    }

    /// <summary>
    /// Thinking blocks the API dropped from the prompt (<see cref="Catalog.InputTransformations"/>): read from the raw
    /// JSON of the SDK message, or of a stream's <c>message_start</c> / <c>message_delta</c>; null when the object
    /// carries no <c>input_transformations</c> (keep what is known).
    /// </summary>
    public static int? DroppedThinking(object? rawRepresentation)
    {
        Anthropic.Core.JsonModel? model = rawRepresentation switch
        {
            SdkMessage message => message,
            SdkStreamEvent streamEvent when streamEvent.TryPickStart(out var start) => start?.Message,
            SdkStreamEvent streamEvent when streamEvent.TryPickDelta(out var delta) => delta,
            _ => null,
        };
        return model is not null && model.RawData.TryGetValue("input_transformations", out var array)
            ? Catalog.InputTransformations.CountDroppedThinking(array)
            : null;
    }
}
