namespace ModelMix.Evaluation;

/// <summary>
/// One prompt of a routing dataset (the format of <c>shared/data/README.md</c>, which <c>modelmix export --shadow</c>
/// also writes): the prompt, its task label, and each model's recorded answer.
/// </summary>
internal sealed record DatasetRecord
{
    /// <summary>The prompt's unique id, e.g. <c>routerbench/mbpp.dev.1</c>; the split is derived from it.</summary>
    public required string Id { get; init; }

    /// <summary>Where the prompt came from (e.g. <c>routerbench</c>), when recorded.</summary>
    public string? Source { get; init; }

    /// <summary>The task label (e.g. <c>mbpp</c>), when recorded.</summary>
    public string? Task { get; init; }

    /// <summary>The prompt text.</summary>
    public required string Prompt { get; init; }

    /// <summary>Each model's answer, keyed by the model name used in the dataset.</summary>
    public required IReadOnlyDictionary<string, DatasetCandidate> Candidates { get; init; }

    /// <summary>
    /// The tier a meta-router classified this prompt into, when the data recorded one (shadow exports may);
    /// null for public datasets, which have none.
    /// </summary>
    public string? Classification { get; init; }

    /// <summary>The cheap model's self-reported confidence, when the data recorded one (for replaying a cascade).</summary>
    public double? Confidence { get; init; }

    /// <summary>The 1-based line of the file it was read from (for messages).</summary>
    public int Line { get; init; }
}
