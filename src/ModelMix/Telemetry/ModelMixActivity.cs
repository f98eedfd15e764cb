using System.Diagnostics;
using ModelMix.Ledger;

namespace ModelMix.Telemetry;

/// <summary>
/// ModelMix's traces: the <c>ModelMix</c> <see cref="ActivitySource"/> (subscribe with <c>AddSource("ModelMix")</c>).
/// The routing stage starts one <c>modelmix.request</c> span per routed call, tagged with the decision; the ledger stage
/// one <c>modelmix.attempt</c> span per attempt (each retry, fallback or tool-loop iteration), tagged with the model,
/// the attempt number, the usage, the exact cost and the prompt-cache outcome. Attribute names follow the OpenTelemetry
/// GenAI semantic conventions where one exists (<c>gen_ai.provider.name</c>, <c>gen_ai.request.model</c>,
/// <c>gen_ai.response.model</c>, <c>gen_ai.usage.*</c>) and are <c>modelmix.*</c> otherwise. Both spans are internal:
/// the GenAI client span of each upstream call comes from Microsoft.Extensions.AI's <c>UseOpenTelemetry</c> (see
/// docs/observability.md for the order that gives exactly one per call).
/// </summary>
public static class ModelMixActivity
{
    /// <summary>The <see cref="ActivitySource"/> name.</summary>
    public const string SourceName = "ModelMix";

    /// <summary>The span a routing stage starts for one routed call.</summary>
    public const string RequestSpanName = "modelmix.request";

    /// <summary>The span the ledger stage starts for one attempt.</summary>
    public const string AttemptSpanName = "modelmix.attempt";

    /// <summary>The provider every ModelMix attempt goes to (<c>gen_ai.provider.name</c>).</summary>
    public const string ProviderName = "anthropic";

    internal static readonly ActivitySource Source = new(SourceName);

    /// <summary>Tags the decision on a request span.</summary>
    internal static void TagDecision(Activity activity, string requestId, string? requestedModel, string? routedModel, string policy, string reason, string? effort, string? tier)
    {
        activity.SetTag("gen_ai.provider.name", ProviderName);
        activity.SetTag("modelmix.request_id", requestId);
        activity.SetTag("modelmix.requested_model", requestedModel);
        activity.SetTag("gen_ai.request.model", routedModel);
        activity.SetTag("modelmix.routed_model", routedModel);
        activity.SetTag("modelmix.policy", policy);
        activity.SetTag("modelmix.reason", reason);
        activity.SetTag("modelmix.effort", effort);
        activity.SetTag("modelmix.tier", tier);
    }

    /// <summary>Tags a recorded attempt on its span: model, attempt, usage, cost, cache outcome, status.</summary>
    internal static void TagAttempt(Activity activity, LedgerRecord record)
    {
        activity.SetTag("gen_ai.provider.name", ProviderName);
        activity.SetTag("gen_ai.request.model", record.RoutedModel);
        activity.SetTag("gen_ai.response.model", record.ResponseModel);
        activity.SetTag("modelmix.request_id", record.RequestId);
        activity.SetTag("modelmix.attempt", record.Attempt);
        activity.SetTag("modelmix.policy", record.Policy);
        activity.SetTag("modelmix.reason", record.Reason);
        activity.SetTag("modelmix.effort", record.Effort);
        if (record.EscalatedFrom is { } from)
        {
            activity.SetTag("modelmix.escalated_from", from);
        }

        var usage = record.Usage;
        activity.SetTag("gen_ai.usage.input_tokens", usage.TotalInputTokens);
        activity.SetTag("gen_ai.usage.output_tokens", usage.OutputTokens);
        activity.SetTag("gen_ai.usage.cache_read.input_tokens", usage.CacheReadTokens);
        activity.SetTag("gen_ai.usage.cache_creation.input_tokens", usage.CacheWrite5mTokens + usage.CacheWrite1hTokens);
        activity.SetTag("modelmix.cache", CacheOutcome(usage));
        activity.SetTag("modelmix.status", record.Status.ToString().ToLowerInvariant());
        if (record.Cost is { } cost)
        {
            activity.SetTag("modelmix.cost_usd", Usd(cost.Total));
        }

        if (record.ErrorType is { } error)
        {
            activity.SetTag("error.type", error);
            if (record.Status != LedgerStatus.Unpriced)
            {
                activity.SetStatus(ActivityStatusCode.Error, error);
            }
        }
    }

    /// <summary>
    /// An exact amount as text, invariant and without trailing zeros (<c>0.006</c>, not <c>0.006000000</c>): a string
    /// keeps the decimal exact, where an exporter would turn a double into <c>0.0060000000000000001</c>.
    /// </summary>
    public static string Usd(decimal amount) =>
        (amount / 1.000000000000000000000000000000000m).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>What the prompt cache did for one attempt: <c>read</c>, <c>write</c>, <c>read_write</c> or <c>none</c>.</summary>
    internal static string CacheOutcome(in Pricing.TokenUsage usage)
    {
        var wrote = usage.CacheWrite5mTokens + usage.CacheWrite1hTokens > 0;
        var read = usage.CacheReadTokens > 0;
        return (read, wrote) switch
        {
            (true, true) => "read_write",
            (true, false) => "read",
            (false, true) => "write",
            _ => "none",
        };
    }
}
