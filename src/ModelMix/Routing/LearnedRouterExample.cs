namespace ModelMix.Routing;

/// <summary>One training example for a learned router: a prompt and how much better the top tier answered it.</summary>
/// <param name="Text">The prompt text.</param>
/// <param name="Task">The task label, or null.</param>
/// <param name="CheapGain">The top tier's quality minus the cheap tier's on this prompt (−1 to 1; 0 when cheap did as well).</param>
/// <param name="MidGain">The top tier's quality minus the middle tier's (ignored without a middle tier).</param>
internal readonly record struct LearnedRouterExample(string Text, string? Task, double CheapGain, double MidGain)
{
    /// <summary>An example from pass/fail outcomes: a tier that matched the top gains nothing, one that did not gains 1.</summary>
    /// <param name="text">The prompt text.</param>
    /// <param name="task">The task label, or null.</param>
    /// <param name="cheapOk">Whether the cheap tier's answer was as good as the top tier's.</param>
    /// <param name="midOk">Whether the middle tier's answer was as good as the top tier's.</param>
    public static LearnedRouterExample FromOutcomes(string text, string? task, bool cheapOk, bool midOk) =>
        new(text, task, cheapOk ? 0 : 1, midOk ? 0 : 1);
}
