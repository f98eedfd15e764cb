using Microsoft.Extensions.AI;

namespace ModelMix.Pipeline;

/// <summary>What a <see cref="TwoPassAgent"/> run did: the final answer, each pass's response, and why synthesis ran or not.</summary>
public sealed record TwoPassResult
{
    /// <summary>The final answer: the synthesis response when pass 2 ran, the tool loop's otherwise.</summary>
    public required ChatResponse Response { get; init; }

    /// <summary>Pass 1 on the cheap model: every message of the tool loop (tool calls and results included), usage summed over its steps.</summary>
    public required ChatResponse ToolLoopResponse { get; init; }

    /// <summary>Pass 2 on the strong model, or <c>null</c> when the cheap model's answer stands.</summary>
    public ChatResponse? SynthesisResponse { get; init; }

    /// <summary>The request id every call of the run was recorded under (one ledger record per call, attempts 1, 2, …).</summary>
    public required string RequestId { get; init; }

    /// <summary>1, or 2 when the strong model wrote the final answer.</summary>
    public int Passes => SynthesisResponse is null ? 1 : 2;

    /// <summary>Model calls of the tool loop (pass 1): at most <see cref="TwoPassAgentOptions.MaxSteps"/> + 1.</summary>
    public int Steps { get; init; }

    /// <summary>Tool calls run during the tool loop.</summary>
    public int ToolCalls { get; init; }

    /// <summary>The largest tool result, in estimated tokens.</summary>
    public long LargestToolResultTokens { get; init; }

    /// <summary>The most rows in one tool result.</summary>
    public int LargestToolResultRows { get; init; }

    /// <summary>Whether the strong model wrote the final answer.</summary>
    public bool Synthesized => SynthesisResponse is not null;

    /// <summary>Why synthesis ran (e.g. <c>4 tool calls ≥ 3</c>), or why not (e.g. <c>no trigger: 1 tool call &lt; 3, …</c>).</summary>
    public required string SynthesisReason { get; init; }
}
