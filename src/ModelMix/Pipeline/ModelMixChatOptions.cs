using Microsoft.Extensions.AI;

namespace ModelMix.Pipeline;

/// <summary>
/// The <see cref="ChatOptions.AdditionalProperties"/> keys ModelMix stages read and write, with typed helpers. An app
/// sets the caller-side ones (task label, session, key); routing and fallback stages set the per-attempt ones
/// (request id, attempt, requested model, policy and reason) so the ledger links every attempt of one request.
/// </summary>
/// <remarks>
/// The <c>With…</c> helpers change the options they are given and return them, for chaining; a <c>null</c> value
/// removes the key. The <c>Get…</c> helpers accept <c>null</c> options and return <c>null</c> when the key is absent.
/// </remarks>
public static class ModelMixChatOptions
{
    /// <summary>Key of the caller's task label (e.g. <c>extraction</c>): what the call is for, for routing and reports.</summary>
    public const string TaskLabelKey = "modelmix.task_label";

    /// <summary>Key of the conversation / agent session id, which groups calls for loop guards and reports.</summary>
    public const string SessionIdKey = "modelmix.session_id";

    /// <summary>Key of the id of the (virtual) key the call is made under; never the key itself.</summary>
    public const string KeyIdKey = "modelmix.key_id";

    /// <summary>Key of ModelMix's id for the logical request, shared by all its retries and escalations.</summary>
    public const string RequestIdKey = "modelmix.request_id";

    /// <summary>Key of the attempt number within the logical request (1 for the first attempt).</summary>
    public const string AttemptKey = "modelmix.attempt";

    /// <summary>Key of the model (or policy alias) the caller asked for, when a routing stage replaced <see cref="ChatOptions.ModelId"/>.</summary>
    public const string RequestedModelKey = "modelmix.requested_model";

    /// <summary>Key of the name of the routing policy that chose the model (e.g. <c>rules</c>, <c>cascade</c>).</summary>
    public const string PolicyKey = "modelmix.policy";

    /// <summary>Key of the human-readable reason the routing policy gave.</summary>
    public const string RoutingReasonKey = "modelmix.routing_reason";

    /// <summary>Key of the model this attempt escalated from (cascade), if it is an escalation.</summary>
    public const string EscalatedFromKey = "modelmix.escalated_from";

    /// <summary>Key of the caller's consent to defer the call to the Message Batches API (not urgent).</summary>
    public const string BatchKey = "modelmix.batch";

    /// <summary>Key of the shadow pair id that links a live call, its shadow call and the judge call in the ledger.</summary>
    public const string ShadowPairIdKey = "modelmix.shadow_pair_id";

    /// <summary>Sets the shadow pair id.</summary>
    /// <param name="options">The options to change.</param>
    /// <param name="pairId">The pair id, or <c>null</c> to remove it.</param>
    public static ChatOptions WithShadowPairId(this ChatOptions options, string? pairId) => Set(options, ShadowPairIdKey, pairId);

    /// <summary>The shadow pair id, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetShadowPairId(this ChatOptions? options) => GetString(options, ShadowPairIdKey);

    /// <summary>Sets the task label.</summary>
    /// <param name="options">The options to change.</param>
    /// <param name="taskLabel">The label, or <c>null</c> to remove it.</param>
    public static ChatOptions WithTaskLabel(this ChatOptions options, string? taskLabel) => Set(options, TaskLabelKey, taskLabel);

    /// <summary>
    /// Asks for an <c>output_config.effort</c> (<c>low</c> … <c>xhigh</c>) through <see cref="ChatOptions.Reasoning"/>,
    /// which the Anthropic SDK sends with adaptive thinking; <see cref="Catalog.EffortLevel.Unspecified"/> clears it (the
    /// model's default applies). Microsoft.Extensions.AI has no <c>max</c>: it is sent as <c>xhigh</c>. A pin or rule
    /// with an effort overrides this (docs/routing.md).
    /// </summary>
    /// <param name="options">The call's options.</param>
    /// <param name="effort">The level.</param>
    public static ChatOptions WithEffort(this ChatOptions options, Catalog.EffortLevel effort)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Reasoning = effort switch
        {
            Catalog.EffortLevel.Low => new ReasoningOptions { Effort = ReasoningEffort.Low, Output = options.Reasoning?.Output },
            Catalog.EffortLevel.Medium => new ReasoningOptions { Effort = ReasoningEffort.Medium, Output = options.Reasoning?.Output },
            Catalog.EffortLevel.High => new ReasoningOptions { Effort = ReasoningEffort.High, Output = options.Reasoning?.Output },
            Catalog.EffortLevel.XHigh or Catalog.EffortLevel.Max => new ReasoningOptions { Effort = ReasoningEffort.ExtraHigh, Output = options.Reasoning?.Output },
            _ => null,
        };
        return options;
    }

    /// <summary>The effort <see cref="WithEffort"/> (or <see cref="ChatOptions.Reasoning"/>) asks for; unspecified when none.</summary>
    /// <param name="options">The call's options.</param>
    public static Catalog.EffortLevel GetEffort(this ChatOptions? options) => ChatRoutingRequest.TraitsOf(options).Effort;

    /// <summary>The task label, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetTaskLabel(this ChatOptions? options) => GetString(options, TaskLabelKey);

    /// <summary>Sets the session id.</summary>
    /// <param name="options">The options to change.</param>
    /// <param name="sessionId">The session id, or <c>null</c> to remove it.</param>
    public static ChatOptions WithSessionId(this ChatOptions options, string? sessionId) => Set(options, SessionIdKey, sessionId);

    /// <summary>The session id, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetSessionId(this ChatOptions? options) => GetString(options, SessionIdKey);

    /// <summary>Sets the key id.</summary>
    /// <param name="options">The options to change.</param>
    /// <param name="keyId">The key id, or <c>null</c> to remove it.</param>
    public static ChatOptions WithKeyId(this ChatOptions options, string? keyId) => Set(options, KeyIdKey, keyId);

    /// <summary>The key id, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetKeyId(this ChatOptions? options) => GetString(options, KeyIdKey);

    /// <summary>Sets the logical request id that retries and escalations of one request share.</summary>
    /// <param name="options">The options to change.</param>
    /// <param name="requestId">The request id, or <c>null</c> to remove it (each call then gets a new one).</param>
    public static ChatOptions WithRequestId(this ChatOptions options, string? requestId) => Set(options, RequestIdKey, requestId);

    /// <summary>The logical request id, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetRequestId(this ChatOptions? options) => GetString(options, RequestIdKey);

    /// <summary>
    /// Sets the attempt number: 1 for the first attempt of the request, or <see cref="Ledger.LedgerRecord.RoutingCallAttempt"/>
    /// (0) for a call made to decide where the request goes, such as the meta-router's classification.
    /// </summary>
    /// <param name="options">The options to change.</param>
    /// <param name="attempt">The attempt number (0 or more), or <c>null</c> to remove it.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="attempt"/> is negative.</exception>
    public static ChatOptions WithAttempt(this ChatOptions options, int? attempt)
    {
        if (attempt is { } value)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(attempt));
        }

        return Set(options, AttemptKey, attempt);
    }

    /// <summary>The attempt number (0 for a routing call), or <c>null</c> when absent or not a whole number of 0 or more.</summary>
    /// <param name="options">The options to read.</param>
    public static int? GetAttempt(this ChatOptions? options) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(AttemptKey, out int attempt) && attempt >= 0
            ? attempt
            : null;

    /// <summary>Sets the model (or policy alias) the caller asked for.</summary>
    /// <param name="options">The options to change.</param>
    /// <param name="requestedModel">The requested model, or <c>null</c> to remove it.</param>
    public static ChatOptions WithRequestedModel(this ChatOptions options, string? requestedModel) => Set(options, RequestedModelKey, requestedModel);

    /// <summary>The model the caller asked for, when a routing stage recorded it; otherwise <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetRequestedModel(this ChatOptions? options) => GetString(options, RequestedModelKey);

    /// <summary>Sets the routing policy name and its human-readable reason.</summary>
    /// <param name="options">The options to change.</param>
    /// <param name="policy">The policy name, or <c>null</c> to remove it.</param>
    /// <param name="reason">The reason, or <c>null</c> to remove it.</param>
    public static ChatOptions WithRouting(this ChatOptions options, string? policy, string? reason) =>
        Set(Set(options, PolicyKey, policy), RoutingReasonKey, reason);

    /// <summary>The routing policy name, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetPolicy(this ChatOptions? options) => GetString(options, PolicyKey);

    /// <summary>The routing reason, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetRoutingReason(this ChatOptions? options) => GetString(options, RoutingReasonKey);

    /// <summary>Sets the model this attempt escalated from.</summary>
    /// <param name="options">The options to change.</param>
    /// <param name="model">The model escalated from, or <c>null</c> to remove it.</param>
    public static ChatOptions WithEscalatedFrom(this ChatOptions options, string? model) => Set(options, EscalatedFromKey, model);

    /// <summary>The model this attempt escalated from, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetEscalatedFrom(this ChatOptions? options) => GetString(options, EscalatedFromKey);

    /// <summary>Marks the call as deferrable to the Message Batches API (or not).</summary>
    /// <param name="options">The options to change.</param>
    /// <param name="batch"><c>true</c> to allow batching, <c>null</c> to remove the mark.</param>
    public static ChatOptions WithBatch(this ChatOptions options, bool? batch) => Set(options, BatchKey, batch);

    /// <summary>Whether the caller allowed the call to be deferred to the Message Batches API (<c>false</c> when unset).</summary>
    /// <param name="options">The options to read.</param>
    public static bool GetBatch(this ChatOptions? options) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(BatchKey, out bool batch) && batch;

    /// <summary>
    /// The caller's batch mark: <c>true</c> (may be batched), <c>false</c> (opted out: a routing rule with
    /// <c>"Batch": true</c> does not batch it), or <c>null</c> when unset.
    /// </summary>
    /// <param name="options">The options to read.</param>
    public static bool? GetBatchPreference(this ChatOptions? options) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(BatchKey, out bool batch) ? batch : null;

    private static ChatOptions Set<T>(ChatOptions options, string key, T? value)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (value is null)
        {
            options.AdditionalProperties?.Remove(key);
            return options;
        }

        (options.AdditionalProperties ??= [])[key] = value;
        return options;
    }

    private static string? GetString(ChatOptions? options, string key) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(key, out string? value) && !string.IsNullOrEmpty(value)
            ? value
            : null;
}
