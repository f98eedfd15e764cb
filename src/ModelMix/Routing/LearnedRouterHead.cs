namespace ModelMix.Routing;

/// <summary>One logistic-regression head of a learned router: a bias and hashed feature weights.</summary>
/// <param name="Bias">The intercept.</param>
/// <param name="Weights">One weight per hashed feature (2^hash_bits of them).</param>
public sealed record LearnedRouterHead(float Bias, float[] Weights);
