using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Ledger;

/// <summary>
/// The usage ModelMix records when the upstream never reported it: a call stopped before it answered, or a stream
/// that ended without its final <c>message_delta</c> (cut, stalled, or stopped after the client left). Both doors
/// record it the same way, flagged <see cref="LedgerRecord.UsageEstimated"/>, so such calls are billed, never free
/// (docs/ledger.md, "Clients that hang up"). The rules lean high: the Claude API's documentation does not say how a
/// cancelled call is billed, so ModelMix charges what the call could have cost rather than less.
/// </summary>
internal static class UsageEstimate
{
    /// <summary>UTF-8 bytes of generated content counted as one output token by <see cref="StreamOutputTokens"/>.</summary>
    public const int BytesPerOutputToken = 3;

    /// <summary>
    /// Output tokens of a stream that ended without its final usage: at least one per content delta, and at least one
    /// per <see cref="BytesPerOutputToken"/> bytes of generated content (text, thinking, tool input) — more than
    /// Claude's tokenizer uses for English text or code (about 3.5–4 bytes per token), so never less than was relayed.
    /// </summary>
    /// <param name="contentDeltas">The <c>content_block_delta</c> events seen.</param>
    /// <param name="contentBytes">The UTF-8 bytes of generated content those deltas carried.</param>
    public static long StreamOutputTokens(long contentDeltas, long contentBytes) =>
        Math.Max(Math.Max(0, contentDeltas), (Math.Max(0, contentBytes) + BytesPerOutputToken - 1) / BytesPerOutputToken);

    /// <summary>
    /// The usage of a call stopped before any usage arrived: the input estimated from the request body as a budget
    /// hold estimates it (<see cref="TokenEstimator.EstimateUtf8"/>, one token per 4 bytes of JSON), and the output at
    /// its bound, <c>max_tokens</c> — the worst case, since how far the model got is unknown.
    /// </summary>
    /// <param name="body">The request body sent upstream.</param>
    /// <param name="maxTokens">The request's <c>max_tokens</c>.</param>
    public static TokenUsage Unanswered(ReadOnlySpan<byte> body, long maxTokens) =>
        new(TokenEstimator.EstimateUtf8(body), Math.Max(0, maxTokens));

    /// <summary>
    /// The usage of a call stopped before any usage arrived, when the input is known as text (the library door):
    /// <see cref="TokenEstimator.Estimate(string?)"/> of the prompt, and <paramref name="maxTokens"/> of output.
    /// </summary>
    /// <param name="inputTokens">The estimated input tokens.</param>
    /// <param name="maxTokens">The request's output bound.</param>
    public static TokenUsage Unanswered(long inputTokens, long maxTokens) =>
        new(Math.Max(0, inputTokens), Math.Max(0, maxTokens));
}
