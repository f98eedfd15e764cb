namespace ModelMix.Evaluation;

/// <summary>A dataset prompt that has every tier's answer: the tiers' qualities and costs (index 0 cheap, 1 mid, 2 top).</summary>
internal sealed record EvaluationPrompt(DatasetRecord Record, double[] Quality, decimal[] Cost)
{
    /// <summary>The verifier's outcome for the cheap tier's answer, when the data recorded one.</summary>
    public double? CheapVerified { get; init; }

    /// <summary>What verifying the cheap answer cost, when recorded.</summary>
    public decimal CheapVerifierCost { get; init; }

    /// <summary>The cheapest tier whose quality reaches the top tier's (the oracle's pick).</summary>
    public int OracleTier(bool hasMid) =>
        Quality[0] >= Quality[2] ? 0 : hasMid && Quality[1] >= Quality[2] ? 1 : 2;

    /// <summary>Picks the prompts of a split that have every tier's model; counts the rest as skipped.</summary>
    public static List<EvaluationPrompt> Select(IEnumerable<DatasetRecord> records, EvaluationTiers tiers, DatasetSplit split, int seed, out int skipped)
    {
        var list = new List<EvaluationPrompt>();
        skipped = 0;
        foreach (var record in records)
        {
            if (!DatasetSplitter.InSplit(record.Id, split, seed))
            {
                continue;
            }

            if (!record.Candidates.TryGetValue(tiers.Cheap, out var cheap)
                || !record.Candidates.TryGetValue(tiers.Top, out var top)
                || (tiers.Mid is not null && !record.Candidates.ContainsKey(tiers.Mid)))
            {
                skipped++;
                continue;
            }

            var mid = tiers.Mid is null ? top : record.Candidates[tiers.Mid];
            list.Add(new EvaluationPrompt(record, [cheap.Quality, mid.Quality, top.Quality], [cheap.CostUsd, mid.CostUsd, top.CostUsd])
            {
                CheapVerified = cheap.Verified,
                CheapVerifierCost = cheap.VerifierCostUsd ?? 0m,
            });
        }

        return list;
    }
}
