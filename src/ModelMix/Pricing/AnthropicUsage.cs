using System.Text.Json;
using SdkMessageDeltaUsage = Anthropic.Models.Messages.MessageDeltaUsage;
using SdkUsage = Anthropic.Models.Messages.Usage;

namespace ModelMix.Pricing;

/// <summary>
/// Reads Anthropic's <c>usage</c> object (wire JSON or the official SDK's types) into a <see cref="TokenUsage"/>,
/// including the streaming case where <c>message_delta</c> usage updates what <c>message_start</c> reported.
/// </summary>
public static class AnthropicUsage
{
    /// <summary>
    /// Parses a wire <c>usage</c> object. Missing or null fields count as zero / default. When
    /// <c>cache_creation_input_tokens</c> exceeds the <c>cache_creation</c> TTL breakdown (or there is no breakdown),
    /// the remainder counts as 5-minute writes.
    /// </summary>
    /// <param name="usage">The <c>usage</c> JSON object of a Message, a batch result or a <c>message_start</c> event.</param>
    /// <exception cref="ArgumentException"><paramref name="usage"/> is not a JSON object.</exception>
    public static TokenUsage FromJson(JsonElement usage)
    {
        RequireObject(usage);
        var creationTotal = Long(usage, "cache_creation_input_tokens") ?? 0;
        long write5m = 0, write1h = 0;
        if (usage.TryGetProperty("cache_creation", out var breakdown) && breakdown.ValueKind == JsonValueKind.Object)
        {
            write5m = Long(breakdown, "ephemeral_5m_input_tokens") ?? 0;
            write1h = Long(breakdown, "ephemeral_1h_input_tokens") ?? 0;
        }

        (write5m, write1h) = Reconcile(creationTotal, write5m, write1h);
        return new TokenUsage(
            Long(usage, "input_tokens") ?? 0,
            Long(usage, "output_tokens") ?? 0,
            write5m,
            write1h,
            Long(usage, "cache_read_input_tokens") ?? 0,
            ParseServiceTier(String(usage, "service_tier")),
            ParseSpeed(String(usage, "speed")),
            String(usage, "inference_geo"));
    }

    /// <summary>Converts the official SDK's <c>Usage</c> (from a Message or a <c>message_start</c> event).</summary>
    /// <param name="usage">The SDK usage object.</param>
    public static TokenUsage FromSdk(SdkUsage usage)
    {
        ArgumentNullException.ThrowIfNull(usage);
        var breakdown = usage.CacheCreation;
        var (write5m, write1h) = Reconcile(
            usage.CacheCreationInputTokens ?? 0,
            breakdown?.Ephemeral5mInputTokens ?? 0,
            breakdown?.Ephemeral1hInputTokens ?? 0);
        return new TokenUsage(
            usage.InputTokens,
            usage.OutputTokens,
            write5m,
            write1h,
            usage.CacheReadInputTokens ?? 0,
            ParseServiceTier(usage.ServiceTier?.Raw()),
            ParseSpeed(usage.Speed?.Raw()),
            usage.InferenceGeo);
    }

    /// <summary>
    /// Applies a <c>message_delta</c> event's <c>usage</c> to what <c>message_start</c> reported. Delta counts are
    /// cumulative, so every field the delta contains replaces the earlier value; absent fields are kept.
    /// </summary>
    /// <param name="start">The usage so far (from <c>message_start</c> or an earlier delta).</param>
    /// <param name="deltaUsage">The <c>usage</c> object of the <c>message_delta</c> event.</param>
    /// <exception cref="ArgumentException"><paramref name="deltaUsage"/> is not a JSON object.</exception>
    public static TokenUsage MergeDelta(in TokenUsage start, JsonElement deltaUsage)
    {
        RequireObject(deltaUsage);
        long write5m = start.CacheWrite5mTokens, write1h = start.CacheWrite1hTokens;
        var creationTotal = Long(deltaUsage, "cache_creation_input_tokens");
        if (deltaUsage.TryGetProperty("cache_creation", out var breakdown) && breakdown.ValueKind == JsonValueKind.Object)
        {
            write5m = Long(breakdown, "ephemeral_5m_input_tokens") ?? 0;
            write1h = Long(breakdown, "ephemeral_1h_input_tokens") ?? 0;
            (write5m, write1h) = Reconcile(creationTotal ?? write5m + write1h, write5m, write1h);
        }
        else if (creationTotal is { } total)
        {
            (write5m, write1h) = SplitTotal(total, write5m, write1h);
        }

        var tier = String(deltaUsage, "service_tier");
        var speed = String(deltaUsage, "speed");
        var geo = String(deltaUsage, "inference_geo");
        return new TokenUsage(
            Long(deltaUsage, "input_tokens") ?? start.InputTokens,
            Long(deltaUsage, "output_tokens") ?? start.OutputTokens,
            write5m,
            write1h,
            Long(deltaUsage, "cache_read_input_tokens") ?? start.CacheReadTokens,
            tier is null ? start.ServiceTier : ParseServiceTier(tier),
            speed is null ? start.Speed : ParseSpeed(speed),
            geo ?? start.InferenceGeo);
    }

    /// <summary>Applies the SDK's <c>MessageDeltaUsage</c> (cumulative counts) to the usage so far.</summary>
    /// <param name="start">The usage so far (from <c>message_start</c> or an earlier delta).</param>
    /// <param name="delta">The SDK delta usage.</param>
    public static TokenUsage MergeDelta(in TokenUsage start, SdkMessageDeltaUsage delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        var (write5m, write1h) = delta.CacheCreationInputTokens is { } total
            ? SplitTotal(total, start.CacheWrite5mTokens, start.CacheWrite1hTokens)
            : (start.CacheWrite5mTokens, start.CacheWrite1hTokens);
        return start with
        {
            InputTokens = delta.InputTokens ?? start.InputTokens,
            OutputTokens = delta.OutputTokens,
            CacheWrite5mTokens = write5m,
            CacheWrite1hTokens = write1h,
            CacheReadTokens = delta.CacheReadInputTokens ?? start.CacheReadTokens,
        };
    }

    /// <summary>
    /// Folds one streaming event into the running usage: <c>message_start</c> sets it from
    /// <c>message.usage</c>, <c>message_delta</c> merges its <c>usage</c>, every other event leaves it unchanged.
    /// </summary>
    /// <param name="current">The usage so far (<c>default</c> before the first event).</param>
    /// <param name="streamEvent">The parsed <c>data:</c> JSON of one SSE event.</param>
    public static TokenUsage ApplyStreamEvent(in TokenUsage current, JsonElement streamEvent)
    {
        if (streamEvent.ValueKind != JsonValueKind.Object || !streamEvent.TryGetProperty("type", out var type))
        {
            return current;
        }

        if (type.ValueEquals("message_start")
            && streamEvent.TryGetProperty("message", out var message)
            && message.ValueKind == JsonValueKind.Object
            && message.TryGetProperty("usage", out var startUsage)
            && startUsage.ValueKind == JsonValueKind.Object)
        {
            return FromJson(startUsage);
        }

        if (type.ValueEquals("message_delta")
            && streamEvent.TryGetProperty("usage", out var deltaUsage)
            && deltaUsage.ValueKind == JsonValueKind.Object)
        {
            return MergeDelta(current, deltaUsage);
        }

        return current;
    }

    /// <summary>Maps <c>usage.service_tier</c>: "batch" and "priority" by name; anything else is standard.</summary>
    /// <param name="value">The wire value, or null.</param>
    public static ServiceTier ParseServiceTier(string? value) =>
        string.Equals(value, "batch", StringComparison.OrdinalIgnoreCase) ? ServiceTier.Batch
        : string.Equals(value, "priority", StringComparison.OrdinalIgnoreCase) ? ServiceTier.Priority
        : ServiceTier.Standard;

    /// <summary>Maps <c>usage.speed</c>: "fast" is fast mode; anything else is standard.</summary>
    /// <param name="value">The wire value, or null.</param>
    public static Speed ParseSpeed(string? value) =>
        string.Equals(value, "fast", StringComparison.OrdinalIgnoreCase) ? Speed.Fast : Speed.Standard;

    private static (long Write5m, long Write1h) Reconcile(long total, long write5m, long write1h)
    {
        var remainder = total - write5m - write1h;
        return remainder > 0 ? (write5m + remainder, write1h) : (write5m, write1h);
    }

    private static (long Write5m, long Write1h) SplitTotal(long total, long write5m, long write1h)
    {
        if (total == write5m + write1h)
        {
            return (write5m, write1h);
        }

        // A new total without a breakdown: keep the known 1h writes, the rest are 5m writes.
        return total >= write1h ? (total - write1h, write1h) : (total, 0);
    }

    private static void RequireObject(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException($"A usage object must be a JSON object, not {element.ValueKind}.", nameof(element));
        }
    }

    private static long? Long(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number)
            ? number
            : null;

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
