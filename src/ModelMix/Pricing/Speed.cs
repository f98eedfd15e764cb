namespace ModelMix.Pricing;

/// <summary>The output speed a call ran at (<c>usage.speed</c>).</summary>
public enum Speed
{
    /// <summary>Normal speed at list price.</summary>
    Standard = 0,

    /// <summary>Fast mode: every rate times the model's fast-mode multiplier (6× on Opus 4.6).</summary>
    Fast = 1,
}
