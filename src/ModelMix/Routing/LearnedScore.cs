namespace ModelMix.Routing;

/// <summary>A learned router's predictions for one request.</summary>
/// <param name="CheapOk">The probability that the cheap tier's answer is as good as the top tier's.</param>
/// <param name="MidOk">The probability that the middle tier's answer is as good as the top tier's; 0 without a middle tier.</param>
public readonly record struct LearnedScore(double CheapOk, double MidOk);
