using System.Globalization;
using Microsoft.Extensions.AI;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Pipeline;

/// <summary>
/// Runs an agent's tool loop on a cheap model and, only when the work calls for it, has a strong model write the final
/// answer from the conversation and the tool results; otherwise the cheap model's answer stands. Every call carries the
/// policy <c>two-pass</c>, the run's request id, its attempt number and a reason naming its pass, so a ledger stage in
/// <c>client</c> attributes the cost per pass.
/// </summary>
/// <remarks>
/// The tool loop is Microsoft.Extensions.AI's <see cref="FunctionInvokingChatClient"/> with
/// <see cref="FunctionInvokingChatClient.MaximumIterationsPerRequest"/> = <see cref="TwoPassAgentOptions.MaxSteps"/>,
/// not a hand-written loop: it already handles parallel calls, errors, approvals and unknown functions. The agent adds a
/// thin stage under it that tags and counts each step. When the model still asks for tools after
/// <see cref="TwoPassAgentOptions.MaxSteps"/> rounds, the function-invoking client makes one more call with the tools
/// withdrawn so that the model answers; that run counts as having reached the step cap. Pass the client <em>without</em> function
/// invocation (e.g. loop guard → ledger → <c>AsIChatClient</c>), so that each step is guarded and recorded.
/// </remarks>
public sealed class TwoPassAgent
{
    /// <summary>The policy name recorded on every call.</summary>
    public const string PolicyName = "two-pass";

    private readonly IChatClient _client;
    private readonly TwoPassAgentOptions _options;
    private readonly string _cheapModel;
    private readonly string _strongModel;
    private readonly string _cheapTier;
    private readonly string _strongTier;
    private readonly Catalog.ModelFit _fit;

    /// <summary>Creates the agent over <paramref name="client"/>.</summary>
    /// <param name="client">The model client both passes call, with the model set per call (no function invocation in it).</param>
    /// <param name="options">Models, step cap and synthesis triggers; the defaults when <c>null</c>.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public TwoPassAgent(IChatClient client, TwoPassAgentOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        options ??= new TwoPassAgentOptions();
        TwoPassAgentOptionsValidator.ThrowIfInvalid(options);
        _client = client;
        _options = options;
        var prices = options.Prices ?? PriceBook.Default;
        _cheapModel = ModelOf(prices, options.CheapModel);
        _strongModel = ModelOf(prices, options.StrongModel);
        _cheapTier = TierOf(prices, _cheapModel);
        _strongTier = TierOf(prices, _strongModel);
        _fit = new Catalog.ModelFit(prices);
    }

    /// <summary>Runs the agent on one user prompt.</summary>
    /// <param name="prompt">The user's request.</param>
    /// <param name="options">The caller's options: tools, session, task label, … (the model is set per pass).</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    public Task<TwoPassResult> RunAsync(string prompt, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        RunAsync([new ChatMessage(ChatRole.User, prompt)], options, synthesize: false, cancellationToken);

    /// <summary>Runs the agent on a conversation.</summary>
    /// <param name="messages">The conversation so far.</param>
    /// <param name="options">The caller's options: tools, session, task label, … (the model is set per pass).</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    public Task<TwoPassResult> RunAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        RunAsync(messages, options, synthesize: false, cancellationToken);

    /// <summary>Runs the agent on a conversation, the strong model writing the final answer whatever the triggers say when <paramref name="synthesize"/> is set.</summary>
    /// <param name="messages">The conversation so far.</param>
    /// <param name="options">The caller's options: tools, session, task label, … (the model is set per pass).</param>
    /// <param name="synthesize">The caller asks for synthesis by the strong model.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    public async Task<TwoPassResult> RunAsync(IEnumerable<ChatMessage> messages, ChatOptions? options, bool synthesize, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var conversation = messages as IList<ChatMessage> ?? messages.ToList();
        var requestId = options.GetRequestId() ?? LedgerIds.New(TimeProvider.System);
        var steps = new StepTagger(_client, requestId, options.GetAttempt() ?? 1);

        // Pass 1: the tool loop on the cheap model. The loop and the tagger are per run and never disposed: disposing
        // them would dispose the caller's client.
        var loop = new FunctionInvokingChatClient(steps, _options.LoggerFactory, _options.FunctionInvocationServices);
        _options.ConfigureFunctionInvocation?.Invoke(loop);
        loop.MaximumIterationsPerRequest = _options.MaxSteps;
        var pass1Options = (options?.Clone() ?? new ChatOptions()).SetRouting(PolicyName, $"pass 1 (tool loop) on {_cheapTier}");
        pass1Options.ModelId = _cheapModel;
        FitModel(conversation, pass1Options); // a cheap model that would reject the call as it is stands for its fit
        var toolLoop = await loop.GetResponseAsync(conversation, pass1Options, cancellationToken).ConfigureAwait(false);
        var pass1Steps = steps.Calls;

        var tools = TwoPassToolResults.Measure(toolLoop.Messages);
        var stepCapReached = pass1Steps > _options.MaxSteps;
        var (triggered, why) = Decide(tools, synthesize || _options.AlwaysSynthesize, stepCapReached);
        if (!triggered)
        {
            return new TwoPassResult
            {
                Response = toolLoop,
                ToolLoopResponse = toolLoop,
                RequestId = requestId,
                Steps = pass1Steps,
                ToolCalls = tools.Calls,
                LargestToolResultTokens = tools.LargestTokens,
                LargestToolResultRows = tools.LargestRows,
                SynthesisReason = why,
            };
        }

        // Pass 2: the strong model writes the answer from everything up to the last tool result.
        var synthesisMessages = new List<ChatMessage>(conversation);
        synthesisMessages.AddRange(UpToLastToolResult(toolLoop.Messages));
        synthesisMessages.Add(new ChatMessage(ChatRole.User, _options.SynthesisInstruction));
        var pass2Options = (options?.Clone() ?? new ChatOptions()).SetRouting(PolicyName, $"pass 2 (synthesis) on {_strongTier}: {why}");
        pass2Options.ModelId = _strongModel;
        if (pass2Options.Tools is { Count: > 0 })
        {
            // The tool definitions stay (the conversation holds tool_use blocks); the model may not call them.
            pass2Options.ToolMode = ChatToolMode.None;
        }

        FitModel(synthesisMessages, pass2Options);
        var synthesis = await steps.GetResponseAsync(synthesisMessages, pass2Options, cancellationToken).ConfigureAwait(false);
        return new TwoPassResult
        {
            Response = synthesis,
            ToolLoopResponse = toolLoop,
            SynthesisResponse = synthesis,
            RequestId = requestId,
            Steps = pass1Steps,
            ToolCalls = tools.Calls,
            LargestToolResultTokens = tools.LargestTokens,
            LargestToolResultRows = tools.LargestRows,
            SynthesisReason = why,
        };
    }

    private (bool Triggered, string Why) Decide(TwoPassToolResults tools, bool asked, bool stepCapReached)
    {
        var inv = CultureInfo.InvariantCulture;
        var reasons = new List<string>();
        var misses = new List<string>();
        if (asked)
        {
            reasons.Add("requested by the caller");
        }

        if (stepCapReached && _options.SynthesizeWhenStepCapReached)
        {
            reasons.Add(string.Format(inv, "step cap {0} reached", _options.MaxSteps));
        }

        if (_options.SynthesisMinToolCalls is { } minCalls)
        {
            var text = string.Format(inv, "{0} tool call{1}", tools.Calls, tools.Calls == 1 ? string.Empty : "s");
            (tools.Calls >= minCalls ? reasons : misses).Add(string.Format(inv, "{0} {1} {2}", text, tools.Calls >= minCalls ? "≥" : "<", minCalls));
        }

        if (_options.SynthesisMinResultTokens is { } minTokens)
        {
            if (tools.LargestTokens >= minTokens)
            {
                reasons.Add(string.Format(inv, "{0} result ~{1:N0} tokens ≥ {2:N0}", tools.LargestTokensTool, tools.LargestTokens, minTokens));
            }
            else
            {
                misses.Add(string.Format(inv, "largest result ~{0:N0} tokens < {1:N0}", tools.LargestTokens, minTokens));
            }
        }

        if (_options.SynthesisMinResultRows is { } minRows)
        {
            if (tools.LargestRows >= minRows)
            {
                reasons.Add(string.Format(inv, "{0} result {1:N0} rows ≥ {2:N0}", tools.LargestRowsTool, tools.LargestRows, minRows));
            }
            else
            {
                misses.Add(string.Format(inv, "largest result {0:N0} rows < {1:N0}", tools.LargestRows, minRows));
            }
        }

        return reasons.Count > 0
            ? (true, string.Join("; ", reasons))
            : (false, misses.Count > 0 ? "no trigger: " + string.Join(", ", misses) : "no trigger configured");
    }

    private static IEnumerable<ChatMessage> UpToLastToolResult(IList<ChatMessage> messages)
    {
        // The cheap model's closing text (or unanswered tool calls at the step cap) is left out: the strong model
        // writes the answer, and a tool_use without its tool_result would be refused by the API.
        var last = -1;
        for (var i = messages.Count - 1; i >= 0; i--)
        {
            if (messages[i].Contents.Any(static c => c is FunctionResultContent))
            {
                last = i;
                break;
            }
        }

        return messages.Take(last + 1);
    }

    /// <summary>Moves a pass off a model that would reject its call as it is (ModelFit), saying so in the routing reason.</summary>
    private void FitModel(IEnumerable<ChatMessage> messages, ChatOptions options)
    {
        var model = options.ModelId!;
        var request = ChatRoutingRequest.From(messages, options);
        var fitted = _fit.Fit(new RoutingDecision(model, options.GetRoutingReason() ?? PolicyName, 1, PolicyName), request);
        if (!string.Equals(fitted.Model, model, StringComparison.Ordinal))
        {
            options.ModelId = fitted.Model;
            options.SetRouting(PolicyName, fitted.Reason);
        }
    }

    /// <summary>A tier name becomes the catalog's model for it; any other name is sent as given (an unpriced model too).</summary>
    private static string ModelOf(PriceBook prices, string tierOrModel) =>
        prices.Tiers.TryGetValue(tierOrModel, out var model) ? model : tierOrModel;

    private static string TierOf(PriceBook prices, string model) =>
        prices.TryGetEntry(model, out var entry) && entry.Family is { Length: > 0 } family ? family : model;

    /// <summary>Tags each call of a run with its attempt number and request id and counts the calls.</summary>
    private sealed class StepTagger(IChatClient inner, string requestId, int firstAttempt) : DelegatingChatClient(inner)
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            base.GetResponseAsync(messages, Tag(options), cancellationToken);

        public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            base.GetStreamingResponseAsync(messages, Tag(options), cancellationToken);

        private ChatOptions Tag(ChatOptions? options)
        {
            var attempt = firstAttempt + Interlocked.Increment(ref _calls) - 1;
            return (options?.Clone() ?? new ChatOptions()).SetRequestId(requestId).SetAttempt(attempt);
        }
    }
}
