namespace ModelMix.Routing;

/// <summary>Each scorer's prediction of the training target, (gap + 1) / 2, for the cheap and mid heads (0 where a head is missing).</summary>
internal readonly record struct LearnedScoreParts(double LinearCheap, double LinearMid, double WordsCheap, double WordsMid, double PriorCheap, double PriorMid)
{
    /// <summary>The score of an average of scorers.</summary>
    public LearnedScore Combine(LearnedScorers scorers, bool hasMid)
    {
        var n = 0;
        double cheap = 0, mid = 0;
        if ((scorers & LearnedScorers.Linear) != 0)
        {
            cheap += LinearCheap;
            mid += LinearMid;
            n++;
        }

        if ((scorers & LearnedScorers.Words) != 0)
        {
            cheap += WordsCheap;
            mid += WordsMid;
            n++;
        }

        if ((scorers & LearnedScorers.TaskPrior) != 0)
        {
            cheap += PriorCheap;
            mid += PriorMid;
            n++;
        }

        return new LearnedScore((2 * cheap / n) - 1, hasMid ? (2 * mid / n) - 1 : 0);
    }
}
