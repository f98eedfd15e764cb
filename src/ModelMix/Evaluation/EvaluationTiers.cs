namespace ModelMix.Evaluation;

/// <summary>The dataset models evaluation treats as the cheap, middle (optional) and top tiers.</summary>
/// <param name="Cheap">The cheap tier's model.</param>
/// <param name="Mid">The middle tier's model, or null.</param>
/// <param name="Top">The top tier's model.</param>
internal sealed record EvaluationTiers(string Cheap, string? Mid, string Top)
{
    /// <summary>The model of a tier index (0 cheap, 1 mid, 2 top).</summary>
    internal string Model(int tier) => tier switch { 0 => Cheap, 1 => Mid ?? Top, _ => Top };
}
