using Microsoft.Extensions.AI;

namespace ModelMix.Pipeline;

/// <summary>
/// What ModelMix says about an answer, in <see cref="ChatResponse.AdditionalProperties"/> (and in the last
/// <see cref="ChatResponseUpdate"/> of a stream, which <c>ToChatResponse</c> carries over): the request id, the model
/// the last attempt was routed to, the routing policy and its reason, how many attempts were made and their exact
/// cost. Written by the ledger stage (per attempt, with the request's running total) and by the routing stage (for
/// the whole request, tool-loop iterations included).
/// </summary>
public static class ModelMixResponse
{
    /// <summary>Key of the logical request id (a string).</summary>
    public const string RequestIdKey = ModelMixChatOptions.RequestIdKey;

    /// <summary>Key of the model the last attempt was sent to (a string).</summary>
    public const string RoutedModelKey = "modelmix.routed_model";

    /// <summary>Key of the routing policy that decided (a string; <c>passthrough</c> without a routing stage).</summary>
    public const string PolicyKey = ModelMixChatOptions.PolicyKey;

    /// <summary>Key of the routing reason (a string).</summary>
    public const string RoutingReasonKey = ModelMixChatOptions.RoutingReasonKey;

    /// <summary>Key of the number of attempts recorded for the request so far (an int).</summary>
    public const string AttemptsKey = "modelmix.attempts";

    /// <summary>
    /// Key of the exact cost in US dollars (a <see cref="decimal"/>) of every attempt recorded for the request below the
    /// stage that wrote it — retries, fallbacks and tool-loop iterations included. Absent when an attempt was unpriced.
    /// </summary>
    public const string CostUsdKey = "modelmix.cost_usd";

    /// <summary>The request id, or <c>null</c>.</summary>
    /// <param name="response">The answer.</param>
    public static string? GetRequestId(this ChatResponse response) => String(Properties(response), RequestIdKey);

    /// <summary>The model the last attempt was routed to, or <c>null</c>.</summary>
    /// <param name="response">The answer.</param>
    public static string? GetRoutedModel(this ChatResponse response) => String(Properties(response), RoutedModelKey);

    /// <summary>The routing policy, or <c>null</c>.</summary>
    /// <param name="response">The answer.</param>
    public static string? GetPolicy(this ChatResponse response) => String(Properties(response), PolicyKey);

    /// <summary>The routing reason, or <c>null</c>.</summary>
    /// <param name="response">The answer.</param>
    public static string? GetRoutingReason(this ChatResponse response) => String(Properties(response), RoutingReasonKey);

    /// <summary>The number of attempts recorded for the request, or <c>null</c>.</summary>
    /// <param name="response">The answer.</param>
    public static int? GetAttempts(this ChatResponse response) =>
        Properties(response) is { } properties && properties.TryGetValue(AttemptsKey, out int attempts) ? attempts : null;

    /// <summary>The exact cost in US dollars of the request's recorded attempts, or <c>null</c> (unknown or unpriced).</summary>
    /// <param name="response">The answer.</param>
    public static decimal? GetCostUsd(this ChatResponse response) =>
        Properties(response) is { } properties && properties.TryGetValue(CostUsdKey, out var value) && value is decimal cost ? cost : null;

    /// <summary>Writes what <paramref name="scope"/> knows about the request into <paramref name="properties"/>.</summary>
    internal static void Annotate(AdditionalPropertiesDictionary properties, RequestScope scope, string? routedModel, string? policy, string? reason)
    {
        properties[RequestIdKey] = scope.RequestId;
        if ((scope.LastRoutedModel ?? routedModel) is { } model)
        {
            properties[RoutedModelKey] = model;
        }

        if ((scope.Decision?.Policy ?? policy) is { } decidedBy)
        {
            properties[PolicyKey] = decidedBy;
        }

        if ((scope.Decision?.Reason ?? reason) is { } why)
        {
            properties[RoutingReasonKey] = why;
        }

        properties[AttemptsKey] = scope.Attempts;
        if (scope.Cost is { } cost)
        {
            properties[CostUsdKey] = cost;
        }
        else
        {
            properties.Remove(CostUsdKey);
        }
    }

    private static AdditionalPropertiesDictionary? Properties(ChatResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return response.AdditionalProperties;
    }

    private static string? String(AdditionalPropertiesDictionary? properties, string key) =>
        properties is not null && properties.TryGetValue(key, out string? value) && !string.IsNullOrEmpty(value) ? value : null;
}
