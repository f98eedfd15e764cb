namespace ModelMix.Pipeline;

/// <summary>What one call of a confidence cascade was for.</summary>
public enum CascadeStepKind
{
    /// <summary>A tier answered the request.</summary>
    Answer,

    /// <summary>A verifier rated the previous answer.</summary>
    Verification,
}
