namespace ModelMix.Pipeline;

/// <summary>Where a confidence cascade gets the confidence of an answer.</summary>
public enum CascadeConfidenceSource
{
    /// <summary>
    /// The answering model returns <c>{"answer": …, "confidence": 0..1}</c> (structured output); no extra call. Falls
    /// back to <see cref="Verifier"/> for a request that asks for its own JSON response format.
    /// </summary>
    StructuredOutput,

    /// <summary>A separate cheap call rates the answer from 0 to 1; the answering call is left as the caller made it.</summary>
    Verifier,
}
