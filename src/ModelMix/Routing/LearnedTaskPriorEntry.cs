namespace ModelMix.Routing;

/// <summary>One task label's prior.</summary>
/// <param name="Count">Training examples with the label.</param>
/// <param name="CheapGain">Its shrunk mean gap, top minus cheap.</param>
/// <param name="MidGain">Its shrunk mean gap, top minus mid.</param>
internal sealed record LearnedTaskPriorEntry(int Count, double CheapGain, double MidGain);
