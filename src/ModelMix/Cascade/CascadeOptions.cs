using Microsoft.Extensions.AI;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Pipeline;

/// <summary>
/// Options of <see cref="CascadeChatClient"/>: the tiers, the confidence threshold (per task label if wanted), how many
/// escalations are allowed and where confidences come from. The defaults work: haiku → sonnet → opus, threshold 0.7,
/// confidence from structured output.
/// </summary>
public sealed class CascadeOptions
{
    /// <summary>The instruction added as a system message when the answering model reports its own confidence.</summary>
    public const string DefaultConfidenceInstruction =
        "Answer the user's request. Reply with a JSON object {\"answer\": <your complete answer as a string>, " +
        "\"confidence\": <a number from 0 to 1: the probability that your answer is correct and complete>}. " +
        "Be honest: a low confidence sends the request to a stronger model.";

    /// <summary>The system prompt of the verifier call.</summary>
    public const string DefaultVerifierPrompt =
        "You grade answers. Given a request and an answer, rate the probability (0 to 1) that the answer is correct, " +
        "complete and follows the request. Reply with JSON only: {\"confidence\": <0 to 1>, \"reason\": \"at most 12 words\"}.";

    /// <summary>The policy name recorded on every call of the cascade.</summary>
    public string PolicyName { get; set; } = "cascade";

    /// <summary>The tiers tried in order, cheapest first: tiers of the price book or model ids.</summary>
    public IList<string> Tiers { get; set; } = ["haiku", "sonnet", "opus"];

    /// <summary>An answer whose confidence is below this (0 to 1) escalates to the next tier.</summary>
    public double Threshold { get; set; } = 0.7;

    /// <summary>Thresholds per task label (matched ignoring case); requests with another or no label use <see cref="Threshold"/>.</summary>
    public IDictionary<string, double> TaskThresholds { get; set; } = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The most escalations per request (0 means the first tier's answer always stands).</summary>
    public int MaxEscalations { get; set; } = 2;

    /// <summary>Where confidences come from.</summary>
    public CascadeConfidenceSource ConfidenceSource { get; set; } = CascadeConfidenceSource.StructuredOutput;

    /// <summary>The confidence assumed when an answer or a verifier gives none (0 escalates, 1 accepts).</summary>
    public double MissingConfidence { get; set; }

    /// <summary>The system instruction that asks for <c>{"answer": …, "confidence": …}</c>.</summary>
    public string ConfidenceInstruction { get; set; } = DefaultConfidenceInstruction;

    /// <summary>The tier or model that verifies answers; null means the first (cheapest) tier.</summary>
    public string? VerifierModel { get; set; }

    /// <summary>
    /// The client verifier calls go to; null means the cascade's inner client, so the ledger stage below records them.
    /// </summary>
    public IChatClient? Verifier { get; set; }

    /// <summary>The verifier's system prompt; it must ask for <c>{"confidence": …}</c>.</summary>
    public string VerifierPrompt { get; set; } = DefaultVerifierPrompt;

    /// <summary>The verifier's <c>max_tokens</c>.</summary>
    public int VerifierMaxOutputTokens { get; set; } = 100;

    /// <summary>At most this many characters of the request and of the answer are shown to the verifier.</summary>
    public int VerifierMaxChars { get; set; } = 8000;

    /// <summary>Whether the verifier also rates the last answer (which cannot escalate); off by default to save the call.</summary>
    public bool VerifyFinalAnswer { get; set; }

    /// <summary>Resolves tiers to models; null means the price book of the ledger stage below, else the default book.</summary>
    public PriceBook? PriceBook { get; set; }

    /// <summary>The clock used to stamp request ids and price calls; null means the builder's, else the system clock.</summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>When set, receives the first tier's confidence of every request, to calibrate thresholds from.</summary>
    public CascadeCalibration? Calibration { get; set; }
}
