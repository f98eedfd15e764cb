namespace ModelMix.Routing;

/// <summary>One training example for a learned router.</summary>
/// <param name="Text">The prompt text.</param>
/// <param name="Task">The task label, or null.</param>
/// <param name="CheapOk">Whether the cheap tier's answer was as good as the top tier's.</param>
/// <param name="MidOk">Whether the middle tier's answer was as good as the top tier's (ignored without a middle tier).</param>
public readonly record struct LearnedRouterExample(string Text, string? Task, bool CheapOk, bool MidOk);
