using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Pricing;

namespace ModelMix.Pipeline;

/// <summary>Adds the confidence cascade to a <see cref="ChatClientBuilder"/>.</summary>
public static class CascadeChatClientBuilderExtensions
{
    /// <summary>
    /// Answers with the cheapest tier first and escalates while the confidence is below the threshold. Place it above
    /// <c>UseModelMixLedger</c> so every attempt is recorded (and the cascade's total cost can be computed). Options come
    /// from <see cref="Microsoft.Extensions.Options.IOptions{CascadeOptions}"/> — <c>ModelMix:Cascade</c> (Tiers,
    /// Threshold, TaskThresholds, MaxEscalations, …) with <c>AddModelMix</c>, or <c>services.Configure&lt;CascadeOptions&gt;</c>;
    /// without <c>AddModelMix</c>, the section of a registered <c>IConfiguration</c> — then
    /// <paramref name="configure"/>; a <see cref="PriceBook"/> or <see cref="TimeProvider"/> registered in the builder's
    /// services is used unless the options name one.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the cascade's options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static ChatClientBuilder UseModelMixCascade(this ChatClientBuilder builder, Action<CascadeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            var options = StageOptions.Create(services, configure);
            options.PriceBook ??= services.GetService<PriceBook>();
            options.TimeProvider ??= services.GetService<TimeProvider>();
            return new CascadeChatClient(inner, options);
        });
    }

    /// <summary>Renamed <see cref="UseModelMixCascade"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the cascade's options.</param>
    /// <returns>The builder, for chaining.</returns>
    [Obsolete("Renamed UseModelMixCascade (every ModelMix stage is UseModelMix…); this alias goes in the next release.")]
    public static ChatClientBuilder UseConfidenceCascade(this ChatClientBuilder builder, Action<CascadeOptions>? configure = null) =>
        builder.UseModelMixCascade(configure);
}
