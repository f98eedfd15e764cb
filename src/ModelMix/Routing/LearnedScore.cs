namespace ModelMix.Routing;

/// <summary>
/// A learned router's predictions for one request: how much better the top tier's answer is expected to be than each
/// cheaper tier's (the expected quality gap, top minus tier, in quality units of the training data: −1 to 1).
/// </summary>
/// <param name="CheapGain">The expected quality the top tier adds over the cheap tier; near 0 when cheap does as well.</param>
/// <param name="MidGain">The expected quality the top tier adds over the middle tier; 0 without a middle tier.</param>
internal readonly record struct LearnedScore(double CheapGain, double MidGain);
