using Microsoft.Extensions.AI;

namespace ModelMix.Pipeline;

/// <summary>
/// The <see cref="ChatOptions.AdditionalProperties"/> keys ModelMix stages read and write, with typed helpers. An app
/// sets the caller-side ones (task label, session, key); routing and fallback stages set the per-attempt ones
/// (request id, attempt, requested model, policy and reason) so the ledger links every attempt of one request.
/// </summary>
/// <remarks>
/// The <c>With…</c> helpers return a <b>copy</b> of the options with the key set (the instance they are given is not
/// changed, so options shared between calls stay as they were); the <c>Set…</c> helpers change the options they are
/// given and return them, for chaining (what a stage does to its own per-call copy). A <c>null</c> value removes the
/// key. The <c>Get…</c> helpers accept <c>null</c> options and return <c>null</c> when the key is absent.
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
    /// <param name="options">The options to change (and return).</param>
    /// <param name="pairId">The pair id, or <c>null</c> to remove it.</param>
    public static ChatOptions SetShadowPairId(this ChatOptions options, string? pairId) => Set(options, ShadowPairIdKey, pairId);

    /// <summary>A copy of <paramref name="options"/> that sets the shadow pair id.</summary>
    /// <param name="options">The options to copy; not changed.</param>
    /// <param name="pairId">The pair id, or <c>null</c> to remove it.</param>
    public static ChatOptions WithShadowPairId(this ChatOptions options, string? pairId) => Copy(options).SetShadowPairId(pairId);

    /// <summary>The shadow pair id, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetShadowPairId(this ChatOptions? options) => GetString(options, ShadowPairIdKey);

    /// <summary>Sets the task label.</summary>
    /// <param name="options">The options to change (and return).</param>
    /// <param name="taskLabel">The label, or <c>null</c> to remove it.</param>
    public static ChatOptions SetTaskLabel(this ChatOptions options, string? taskLabel) => Set(options, TaskLabelKey, taskLabel);

    /// <summary>A copy of <paramref name="options"/> that sets the task label.</summary>
    /// <param name="options">The options to copy; not changed.</param>
    /// <param name="taskLabel">The label, or <c>null</c> to remove it.</param>
    public static ChatOptions WithTaskLabel(this ChatOptions options, string? taskLabel) => Copy(options).SetTaskLabel(taskLabel);

    /// <summary>
    /// Asks for an <c>output_config.effort</c> (<c>low</c> … <c>xhigh</c>) through <see cref="ChatOptions.Reasoning"/>,
    /// which the Anthropic SDK sends with adaptive thinking; <see cref="Catalog.EffortLevel.Unspecified"/> clears it (the
    /// model's default applies). Microsoft.Extensions.AI has no <c>max</c>: it is sent as <c>xhigh</c>. A pin or rule
    /// with an effort overrides this (docs/routing.md).
    /// </summary>
    /// <param name="options">The call's options, changed and returned.</param>
    /// <param name="effort">The level.</param>
    public static ChatOptions SetEffort(this ChatOptions options, Catalog.EffortLevel effort)
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

    /// <summary>A copy of <paramref name="options"/> that asks for <paramref name="effort"/> (see <see cref="SetEffort"/>).</summary>
    /// <param name="options">The options to copy; not changed.</param>
    /// <param name="effort">The level.</param>
    public static ChatOptions WithEffort(this ChatOptions options, Catalog.EffortLevel effort) => Copy(options).SetEffort(effort);

    /// <summary>The effort <see cref="WithEffort"/> (or <see cref="ChatOptions.Reasoning"/>) asks for; unspecified when none.</summary>
    /// <param name="options">The call's options.</param>
    public static Catalog.EffortLevel GetEffort(this ChatOptions? options) => ChatRoutingRequest.TraitsOf(options).Effort;

    /// <summary>The task label, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetTaskLabel(this ChatOptions? options) => GetString(options, TaskLabelKey);

    /// <summary>Sets the session id.</summary>
    /// <param name="options">The options to change (and return).</param>
    /// <param name="sessionId">The session id, or <c>null</c> to remove it.</param>
    public static ChatOptions SetSessionId(this ChatOptions options, string? sessionId) => Set(options, SessionIdKey, sessionId);

    /// <summary>A copy of <paramref name="options"/> that sets the session id.</summary>
    /// <param name="options">The options to copy; not changed.</param>
    /// <param name="sessionId">The session id, or <c>null</c> to remove it.</param>
    public static ChatOptions WithSessionId(this ChatOptions options, string? sessionId) => Copy(options).SetSessionId(sessionId);

    /// <summary>The session id, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetSessionId(this ChatOptions? options) => GetString(options, SessionIdKey);

    /// <summary>Sets the key id.</summary>
    /// <param name="options">The options to change (and return).</param>
    /// <param name="keyId">The key id, or <c>null</c> to remove it.</param>
    public static ChatOptions SetKeyId(this ChatOptions options, string? keyId) => Set(options, KeyIdKey, keyId);

    /// <summary>A copy of <paramref name="options"/> that sets the key id.</summary>
    /// <param name="options">The options to copy; not changed.</param>
    /// <param name="keyId">The key id, or <c>null</c> to remove it.</param>
    public static ChatOptions WithKeyId(this ChatOptions options, string? keyId) => Copy(options).SetKeyId(keyId);

    /// <summary>The key id, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetKeyId(this ChatOptions? options) => GetString(options, KeyIdKey);

    /// <summary>Sets the logical request id that retries and escalations of one request share.</summary>
    /// <param name="options">The options to change (and return).</param>
    /// <param name="requestId">The request id, or <c>null</c> to remove it (each call then gets a new one).</param>
    public static ChatOptions SetRequestId(this ChatOptions options, string? requestId) => Set(options, RequestIdKey, requestId);

    /// <summary>A copy of <paramref name="options"/> that sets the logical request id that retries and escalations of one request share.</summary>
    /// <param name="options">The options to copy; not changed.</param>
    /// <param name="requestId">The request id, or <c>null</c> to remove it (each call then gets a new one).</param>
    public static ChatOptions WithRequestId(this ChatOptions options, string? requestId) => Copy(options).SetRequestId(requestId);

    /// <summary>
    /// The logical request id: the one set with <see cref="SetRequestId"/>, else the one a routing or fallback stage
    /// above gave the request; <c>null</c> when there is none.
    /// </summary>
    /// <param name="options">The options to read.</param>
    public static string? GetRequestId(this ChatOptions? options) => GetString(options, RequestIdKey) ?? ScopeOf(options)?.RequestId;

    /// <summary>
    /// Sets the attempt number: 1 for the first attempt of the request, or <see cref="Ledger.LedgerRecord.RoutingCallAttempt"/>
    /// (0) for a call made to decide where the request goes, such as the meta-router's classification.
    /// </summary>
    /// <param name="options">The options to change (and return).</param>
    /// <param name="attempt">The attempt number (0 or more), or <c>null</c> to remove it.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="attempt"/> is negative.</exception>
    public static ChatOptions SetAttempt(this ChatOptions options, int? attempt)
    {
        if (attempt is { } value)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(attempt));
        }

        return Set(options, AttemptKey, attempt);
    }

    /// <summary>A copy of <paramref name="options"/> that sets the attempt number (see <see cref="SetAttempt"/>).</summary>
    /// <param name="options">The options to copy; not changed.</param>
    /// <param name="attempt">The attempt number (0 or more), or <c>null</c> to remove it.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="attempt"/> is negative.</exception>
    public static ChatOptions WithAttempt(this ChatOptions options, int? attempt)
    {
        if (attempt is { } value)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(attempt));
        }

        return Copy(options).SetAttempt(attempt);
    }

    /// <summary>The attempt number (0 for a routing call), or <c>null</c> when absent or not a whole number of 0 or more.</summary>
    /// <param name="options">The options to read.</param>
    public static int? GetAttempt(this ChatOptions? options) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(AttemptKey, out int attempt) && attempt >= 0
            ? attempt
            : null;

    /// <summary>Sets the model (or policy alias) the caller asked for.</summary>
    /// <param name="options">The options to change (and return).</param>
    /// <param name="requestedModel">The requested model, or <c>null</c> to remove it.</param>
    public static ChatOptions SetRequestedModel(this ChatOptions options, string? requestedModel) => Set(options, RequestedModelKey, requestedModel);

    /// <summary>A copy of <paramref name="options"/> that sets the model (or policy alias) the caller asked for.</summary>
    /// <param name="options">The options to copy; not changed.</param>
    /// <param name="requestedModel">The requested model, or <c>null</c> to remove it.</param>
    public static ChatOptions WithRequestedModel(this ChatOptions options, string? requestedModel) => Copy(options).SetRequestedModel(requestedModel);

    /// <summary>The model the caller asked for, when a routing stage recorded it; otherwise <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetRequestedModel(this ChatOptions? options) => GetString(options, RequestedModelKey);

    /// <summary>Sets the routing policy name and its human-readable reason.</summary>
    /// <param name="options">The options to change (and return).</param>
    /// <param name="policy">The policy name, or <c>null</c> to remove it.</param>
    /// <param name="reason">The reason, or <c>null</c> to remove it.</param>
    public static ChatOptions SetRouting(this ChatOptions options, string? policy, string? reason) => Set(Set(options, PolicyKey, policy), RoutingReasonKey, reason);

    /// <summary>A copy of <paramref name="options"/> that sets the routing policy name and its human-readable reason.</summary>
    /// <param name="options">The options to copy; not changed.</param>
    /// <param name="policy">The policy name, or <c>null</c> to remove it.</param>
    /// <param name="reason">The reason, or <c>null</c> to remove it.</param>
    public static ChatOptions WithRouting(this ChatOptions options, string? policy, string? reason) => Copy(options).SetRouting(policy, reason);

    /// <summary>The routing policy name, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetPolicy(this ChatOptions? options) => GetString(options, PolicyKey);

    /// <summary>The routing reason, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetRoutingReason(this ChatOptions? options) => GetString(options, RoutingReasonKey);

    /// <summary>Sets the model this attempt escalated from.</summary>
    /// <param name="options">The options to change (and return).</param>
    /// <param name="model">The model escalated from, or <c>null</c> to remove it.</param>
    public static ChatOptions SetEscalatedFrom(this ChatOptions options, string? model) => Set(options, EscalatedFromKey, model);

    /// <summary>A copy of <paramref name="options"/> that sets the model this attempt escalated from.</summary>
    /// <param name="options">The options to copy; not changed.</param>
    /// <param name="model">The model escalated from, or <c>null</c> to remove it.</param>
    public static ChatOptions WithEscalatedFrom(this ChatOptions options, string? model) => Copy(options).SetEscalatedFrom(model);

    /// <summary>The model this attempt escalated from, or <c>null</c>.</summary>
    /// <param name="options">The options to read.</param>
    public static string? GetEscalatedFrom(this ChatOptions? options) => GetString(options, EscalatedFromKey);

    /// <summary>Marks the call as deferrable to the Message Batches API (or not).</summary>
    /// <param name="options">The options to change (and return).</param>
    /// <param name="batch"><c>true</c> to allow batching, <c>null</c> to remove the mark.</param>
    public static ChatOptions SetBatch(this ChatOptions options, bool? batch) => Set(options, BatchKey, batch);

    /// <summary>Marks the call as deferrable to the Message Batches API (or not).</summary>
    /// <param name="options">The options to copy; not changed.</param>
    /// <param name="batch"><c>true</c> to allow batching, <c>null</c> to remove the mark.</param>
    public static ChatOptions WithBatch(this ChatOptions options, bool? batch) => Copy(options).SetBatch(batch);

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

    /// <summary>
    /// A copy of <paramref name="options"/>: <see cref="ChatOptions.Clone"/> gives it an
    /// <see cref="ChatOptions.AdditionalProperties"/> dictionary of its own, so setting a key on the copy never changes
    /// the original.
    /// </summary>
    private static ChatOptions Copy(ChatOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Clone();
    }

    /// <summary>The request scope a stage above put in the options, or <c>null</c>.</summary>
    internal static RequestScope? ScopeOf(ChatOptions? options) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(RequestScope.Key, out var value) ? value as RequestScope : null;

    /// <summary>Puts <paramref name="scope"/> in <paramref name="options"/> (a stage's own per-call copy).</summary>
    internal static void SetScope(ChatOptions options, RequestScope scope) => (options.AdditionalProperties ??= [])[RequestScope.Key] = scope;

    /// <summary>
    /// The options' request scope; when there is none, a new one (with the caller's <see cref="SetRequestId"/> id, else a
    /// new id) is put in <paramref name="options"/>, which must be the stage's own copy.
    /// </summary>
    internal static RequestScope EnsureScope(ChatOptions options, TimeProvider time)
    {
        if (ScopeOf(options) is { } scope)
        {
            return scope;
        }

        scope = new RequestScope(GetString(options, RequestIdKey) ?? Ledger.LedgerIds.New(time));
        SetScope(options, scope);
        return scope;
    }

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
