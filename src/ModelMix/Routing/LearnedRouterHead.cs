namespace ModelMix.Routing;

/// <summary>
/// One logistic-regression head of a learned router: a bias, hashed feature weights, and the weight of the task-prior
/// feature (0 when the router does not use it).
/// </summary>
/// <param name="Bias">The intercept.</param>
/// <param name="Weights">One weight per hashed feature (2^hash_bits of them).</param>
/// <param name="PriorWeight">The weight of the task prior's log-odds.</param>
internal sealed record LearnedRouterHead(float Bias, float[] Weights, float PriorWeight = 0);
