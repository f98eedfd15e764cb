namespace ModelMix.Routing;

/// <summary>
/// The features of one request that routing decides on, extracted once by either door (the <c>IChatClient</c>
/// pipeline or the proxy) and passed by reference: cheap to build, cheap to read, no message bodies.
/// </summary>
public readonly record struct RoutingRequest
{
    /// <summary>
    /// The caller's task label (a <c>ChatOptions</c> property or the <c>x-modelmix-task</c> header), e.g.
    /// <c>classification</c>; null when the caller gave none. Matched case-insensitively.
    /// </summary>
    public string? TaskLabel { get; init; }

    /// <summary>
    /// The text keyword rules search: the newest user turn a person wrote (its text, not the system prompt, tool results
    /// or a client's injected system reminders); for <see cref="ForPrompt"/>, the prompt given. A memory
    /// rather than a string so a door can hand over a slice of a buffer it already holds; empty when unknown.
    /// </summary>
    public ReadOnlyMemory<char> Text { get; init; }

    /// <summary>The estimated input tokens of the whole prompt (see <see cref="TokenEstimator"/>); 0 when unknown.</summary>
    public long EstimatedInputTokens { get; init; }

    /// <summary>How many tools the request offers the model.</summary>
    public int ToolCount { get; init; }

    /// <summary>Whether any message carries an image.</summary>
    public bool HasImages { get; init; }

    /// <summary>
    /// Whether the output will be parsed rather than read: a JSON schema or output format was requested, or
    /// <c>tool_choice</c> forces a tool.
    /// </summary>
    public bool StructuredOutput { get; init; }

    /// <summary>The request's <c>max_tokens</c>; null when the caller did not set one.</summary>
    public long? MaxTokens { get; init; }

    /// <summary>
    /// The number of messages in the conversation so far, the new user message included and system prompts aside
    /// (the length of the API's <c>messages</c> array).
    /// </summary>
    public int ConversationDepth { get; init; }

    /// <summary>The session (agent run, conversation) the request belongs to, when known.</summary>
    public string? SessionId { get; init; }

    /// <summary>The API key (or caller) id the request is billed to, when known.</summary>
    public string? KeyId { get; init; }

    /// <summary>
    /// ModelMix's id of the request, when the door has one: a policy that calls a model (the meta-router) tags its own
    /// call with it, so the ledger links that cost to the request.
    /// </summary>
    public string? RequestId { get; init; }

    /// <summary>The model or alias the caller asked for, when it asked for one.</summary>
    public string? RequestedModel { get; init; }

    /// <summary>
    /// What the request asks of a model that some models refuse (forced tool use, thinking mode, effort, sampling,
    /// prefill, tool versions): routing only moves a request to a model whose <see cref="Catalog.ModelRules"/> accept it.
    /// </summary>
    public Catalog.RequestTraits Traits { get; init; }

    /// <summary>
    /// A request for one prompt: <paramref name="text"/> as the keyword text and its estimated tokens
    /// (<see cref="TokenEstimator.Estimate(ReadOnlySpan{char})"/>), depth 1.
    /// </summary>
    /// <param name="text">The prompt (system + user text).</param>
    /// <param name="taskLabel">The caller's task label, if any.</param>
    public static RoutingRequest ForPrompt(string text, string? taskLabel = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new RoutingRequest
        {
            TaskLabel = taskLabel,
            Text = text.AsMemory(),
            EstimatedInputTokens = TokenEstimator.Estimate(text),
            ConversationDepth = 1,
        };
    }
}
