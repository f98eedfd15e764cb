using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Pricing;

namespace ModelMix.Pipeline;

/// <summary>Adds the confidence cascade to a <see cref="ChatClientBuilder"/>.</summary>
public static class CascadeChatClientBuilderExtensions
{
    /// <summary>
    /// Answers with the cheapest tier first and escalates while the confidence is below the threshold. Place it above
    /// <c>UseModelMixLedger</c> so every attempt is recorded (and the cascade's total cost can be computed); a
    /// <see cref="PriceBook"/> or <see cref="TimeProvider"/> registered in the builder's services is used unless the
    /// options name one.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the cascade's options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static ChatClientBuilder UseConfidenceCascade(this ChatClientBuilder builder, Action<CascadeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            var options = new CascadeOptions();
            configure?.Invoke(options);
            options.PriceBook ??= services.GetService<PriceBook>();
            options.TimeProvider ??= services.GetService<TimeProvider>();
            return new CascadeChatClient(inner, options);
        });
    }
}
