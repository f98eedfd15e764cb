namespace ModelMix.Pricing;

/// <summary>The service tier a call was served on (<c>usage.service_tier</c>).</summary>
public enum ServiceTier
{
    /// <summary>The synchronous Messages API at list price.</summary>
    Standard = 0,

    /// <summary>The Message Batches API: every token class at the batch multiplier (0.5× by default).</summary>
    Batch = 1,

    /// <summary>Priority Tier: billed under a commitment; ModelMix prices it at the standard list rate.</summary>
    Priority = 2,
}
