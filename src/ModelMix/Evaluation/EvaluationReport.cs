namespace ModelMix.Evaluation;

/// <summary>The result of replaying every policy over a dataset split.</summary>
internal sealed record EvaluationReport
{
    /// <summary>The dataset file name.</summary>
    public required string Dataset { get; init; }

    /// <summary>The split reported on.</summary>
    public required DatasetSplit Split { get; init; }

    /// <summary>The split seed.</summary>
    public required int Seed { get; init; }

    /// <summary>The tiers.</summary>
    public required EvaluationTiers Tiers { get; init; }

    /// <summary>How many prompts were evaluated.</summary>
    public required int N { get; init; }

    /// <summary>How many prompts of the split were skipped because they lacked a tier's model.</summary>
    public required int Skipped { get; init; }

    /// <summary>The policies, in report order.</summary>
    public required IReadOnlyList<PolicyResult> Policies { get; init; }

    /// <summary>Things the reader must know: policies not replayed and why, provenance.</summary>
    public required IReadOnlyList<string> Notes { get; init; }
}
