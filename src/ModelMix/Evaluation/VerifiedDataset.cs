namespace ModelMix.Evaluation;

/// <summary>
/// Builds a dataset that records each answer's verification outcome (<see cref="DatasetCandidate.Verified"/>) where the
/// outcome follows from the data: for tasks whose quality label is itself a check a deployment can run on the answer
/// (MBPP's is whether the generated code passes the task's unit tests), the verifier's outcome is that 0/1
/// correctness. Multiple-choice tasks (ARC, Winogrande) are not such tasks: their label needs the answer key, which
/// a deployment does not have, so they are refused unless asked for by name. Nothing is copied: the result is built
/// from the records given (e.g. <c>../shared/data/routerbench-train.jsonl</c>) at run time.
/// </summary>
internal static class VerifiedDataset
{
    /// <summary>The tasks of RouterBench whose 0/1 quality is a unit-test outcome: <c>mbpp</c>.</summary>
    public static IReadOnlyList<string> TestedTasks { get; } = ["mbpp"];

    /// <summary>
    /// The records of <paramref name="tasks"/>, each candidate's <c>verified</c> set to its 0/1 quality (the answer
    /// passed its checks or not), at no verifier cost.
    /// </summary>
    /// <param name="records">The source dataset.</param>
    /// <param name="tasks">The task labels whose quality is a verifier outcome (case-insensitive).</param>
    /// <exception cref="DatasetFormatException">A candidate of those tasks has a quality other than 0 or 1.</exception>
    public static List<DatasetRecord> FromCorrectness(IEnumerable<DatasetRecord> records, IReadOnlyCollection<string> tasks)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(tasks);
        var wanted = new HashSet<string>(tasks, StringComparer.OrdinalIgnoreCase);
        var result = new List<DatasetRecord>();
        foreach (var record in records)
        {
            if (record.Task is null || !wanted.Contains(record.Task))
            {
                continue;
            }

            var candidates = new Dictionary<string, DatasetCandidate>(StringComparer.Ordinal);
            foreach (var (model, candidate) in record.Candidates)
            {
                if (candidate.Quality is not (0.0 or 1.0))
                {
                    throw new DatasetFormatException($"{record.Id}: {model}'s quality is {candidate.Quality}; a verifier outcome can only be derived from pass/fail (0/1) quality.");
                }

                candidates[model] = candidate with { Verified = candidate.Quality, VerifierCostUsd = 0m };
            }

            result.Add(record with { Candidates = candidates });
        }

        return result;
    }
}
