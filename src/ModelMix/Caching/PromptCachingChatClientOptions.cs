using ModelMix.Caching;
using ModelMix.Pricing;

namespace ModelMix.Pipeline;

/// <summary>
/// Options of the prompt-caching stage (<see cref="PromptCachingChatClient"/>). From configuration, <see cref="Caching"/> is
/// built from <c>ModelMix:Caching</c> as bound to <see cref="CachingOptions"/>; code may change it afterwards.
/// </summary>
public sealed class PromptCachingChatClientOptions
{
    /// <summary>The configuration section the stage's <see cref="Caching"/> comes from (bound to <see cref="CachingOptions"/>).</summary>
    [Obsolete("ModelMix:Caching is bound to CachingOptions, the section's one options class on both doors: use CachingOptions.SectionName. This alias goes in the next release.")]
    public const string SectionName = CachingOptions.SectionName;

    /// <summary>Where and how breakpoints go (TTL 5 minutes by default, up to 4, tools/system/conversation).</summary>
    public PromptCachingOptions Caching { get; set; } = new();

    /// <summary>The TTL for calls marked for batch work (<see cref="ModelMixChatOptions.GetBatch"/>); 1 hour by default.</summary>
    public PromptCacheTtl BatchTtl { get; set; } = PromptCacheTtl.OneHour;

    /// <summary>The price book with each model's minimum cacheable length; the builder's registered one, else the default.</summary>
    public PriceBook? PriceBook { get; set; }
}
