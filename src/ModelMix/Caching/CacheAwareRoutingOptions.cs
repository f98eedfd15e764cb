namespace ModelMix.Caching;

/// <summary>How <see cref="CacheAwareRouting"/> weighs a warm prompt cache against the routing policy's choice.</summary>
internal sealed class CacheAwareRoutingOptions
{
    /// <summary>Whether a session stays on the model its prefix is warm on when switching would cost more (default true).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The output tokens assumed when comparing the two models (capped by the request's <c>max_tokens</c>), since the
    /// real count is not known before the call. Default 1,024.
    /// </summary>
    public long AssumedOutputTokens { get; set; } = 1_024;

    /// <summary>The TTL a new model would write the prefix with (the cost of re-caching it there); default 5 minutes.</summary>
    public PromptCacheTtl Ttl { get; set; } = PromptCacheTtl.FiveMinutes;

    /// <summary>
    /// Whether a policy that moves a session to a model with a higher input price (an escalation for quality) is
    /// overruled too. Default false: the cache only decides between models the policy considers good enough, so an
    /// escalation always stands and its reason notes the cache it gives up.
    /// </summary>
    public bool HoldAgainstEscalation { get; set; }
}
