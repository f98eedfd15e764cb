using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using ModelMix.Pricing;

namespace ModelMix.Pipeline;

/// <summary>
/// Options of <see cref="TwoPassAgent"/>: which models run each pass, the step cap of the tool loop, and when the strong
/// model writes the final answer. A <c>null</c> trigger is off; the defaults suit a Haiku tool loop with Opus synthesis, each the catalog's current
/// model of its tier.
/// </summary>
public sealed class TwoPassAgentOptions
{
    /// <summary>
    /// The model that runs the tool loop (pass 1) and whose answer stands when synthesis is not triggered: a tier of the
    /// catalog (<c>haiku</c>, <c>sonnet</c>, <c>opus</c>, <c>fable</c>; resolved through <see cref="Prices"/>' tiers when
    /// the agent is created) or a model id sent as given. Default <c>haiku</c> (Claude Haiku 5.5 in the embedded catalog).
    /// </summary>
    public string CheapModel { get; set; } = "haiku";

    /// <summary>
    /// The model that writes the final answer from the conversation and the tool results (pass 2): a tier or a model id,
    /// as <see cref="CheapModel"/>. Default <c>opus</c> (Claude Opus 5.5 in the embedded catalog).
    /// </summary>
    public string StrongModel { get; set; } = "opus";

    /// <summary>
    /// The step cap: the most rounds of tool calls in the tool loop (FunctionInvokingChatClient's
    /// MaximumIterationsPerRequest). A loop that uses them all gets one more model call with the tools withdrawn, so
    /// pass 1 makes at most <c>MaxSteps + 1</c> calls. Default 6.
    /// </summary>
    public int MaxSteps { get; set; } = 6;

    /// <summary>Synthesis runs when the tool loop ran at least this many tool calls. Default 3.</summary>
    public int? SynthesisMinToolCalls { get; set; } = 3;

    /// <summary>Synthesis runs when any tool result is at least this many estimated tokens (see <c>TokenEstimator</c>). Default 4,000.</summary>
    public long? SynthesisMinResultTokens { get; set; } = 4_000;

    /// <summary>
    /// Synthesis runs when any tool result has at least this many rows: elements of a JSON array (top-level, or the
    /// longest array property of a JSON object), or lines of plain text. Default 100.
    /// </summary>
    public int? SynthesisMinResultRows { get; set; } = 100;

    /// <summary>Synthesis runs when the tool loop used all <see cref="MaxSteps"/> rounds (the cheap model's answer was forced). Default <c>true</c>.</summary>
    public bool SynthesizeWhenStepCapReached { get; set; } = true;

    /// <summary>Synthesis always runs (the caller asks for it on every call; a call can also ask through <see cref="TwoPassAgent.RunAsync(IEnumerable{ChatMessage}, ChatOptions?, bool, CancellationToken)"/>).</summary>
    public bool AlwaysSynthesize { get; set; }

    /// <summary>The user message appended for the strong model after the tool results.</summary>
    public string SynthesisInstruction { get; set; } =
        "Using the conversation and the tool results above, write the final answer to the user's request. Do not call any tools.";

    /// <summary>
    /// The catalog that resolves the tiers of <see cref="CheapModel"/> and <see cref="StrongModel"/> and names the tier
    /// of a model in routing reasons (<c>on haiku</c>); <see cref="PriceBook.Default"/> when <c>null</c>.
    /// </summary>
    public PriceBook? Prices { get; set; }

    /// <summary>Logger factory of the FunctionInvokingChatClient that runs the tool loop.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Services passed to the tool functions (FunctionInvokingChatClient's functionInvocationServices).</summary>
    public IServiceProvider? FunctionInvocationServices { get; set; }

    /// <summary>Changes the FunctionInvokingChatClient of each run (errors, concurrency, …); its iteration cap is then set to <see cref="MaxSteps"/>.</summary>
    public Action<FunctionInvokingChatClient>? ConfigureFunctionInvocation { get; set; }

    /// <summary>Throws when an option is out of range, naming it.</summary>
    /// <exception cref="ArgumentException">A model or the instruction is blank.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A cap or trigger is not positive.</exception>
    [Obsolete("Checked at start by its IValidateOptions validator (registered by AddModelMix and the proxy); this method goes in the next release.")]
    public void Validate() => TwoPassAgentOptionsValidator.ThrowIfInvalid(this);
}
