using ModelMix.Caching;
using ModelMix.Pricing;

namespace ModelMix.Pipeline;

/// <summary>Options of the prompt-caching stage (<see cref="PromptCachingChatClient"/>).</summary>
public sealed class PromptCachingChatClientOptions
{
    /// <summary>The configuration section the stage binds from, when an <c>IConfiguration</c> is registered.</summary>
    public const string SectionName = "ModelMix:Caching";

    /// <summary>Where and how breakpoints go (TTL 5 minutes by default, up to 4, tools/system/conversation).</summary>
    public PromptCachingOptions Caching { get; set; } = new();

    /// <summary>The TTL for calls marked for batch work (<see cref="ModelMixChatOptions.GetBatch"/>); 1 hour by default.</summary>
    public PromptCacheTtl BatchTtl { get; set; } = PromptCacheTtl.OneHour;

    /// <summary>The price book with each model's minimum cacheable length; the builder's registered one, else the default.</summary>
    public PriceBook? PriceBook { get; set; }
}
