using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Shadow;
using ModelMix.Telemetry;

namespace ModelMix.Pipeline;

/// <summary>Adds the shadow stage (<see cref="ShadowChatClient"/>) to a <see cref="ChatClientBuilder"/>.</summary>
public static class ShadowChatClientBuilderExtensions
{
    /// <summary>
    /// Shadows a sampled share of calls to a candidate model with <paramref name="runner"/> (which the app owns and
    /// disposes). Put it above <c>UseModelMixLedger</c>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="runner">Runs the shadow jobs.</param>
    /// <param name="recorder">Prices the live answers (its price book).</param>
    /// <returns>The builder, for chaining.</returns>
    public static ChatClientBuilder UseModelMixShadow(this ChatClientBuilder builder, ShadowRunner runner, AttemptRecorder recorder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(recorder);
        return builder.Use(inner => new ShadowChatClient(inner, runner, recorder.Prices));
    }

    /// <summary>
    /// Shadows a sampled share of calls to a candidate model. The <see cref="AttemptRecorder"/> comes from the services
    /// (or the ledger stage below); pairs go to its ledger store, the judge (when none is configured) is the inner
    /// client, and the budget store, when a cap is set and none is configured, comes from the services. Put it above
    /// <c>UseModelMixLedger</c>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the options (from <c>ModelMix:Shadow</c> / <c>IOptions&lt;ShadowOptions&gt;</c>; they need at least <see cref="ShadowOptions.CandidateModel"/> and a rate).</param>
    /// <returns>The builder, for chaining.</returns>
    public static ChatClientBuilder UseModelMixShadow(this ChatClientBuilder builder, Action<ShadowOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            var options = StageOptions.Create(services, configure);
            options.TimeProvider ??= services.GetService<TimeProvider>();
            options.BudgetStore ??= services.GetService<IBudgetStore>();
            var recorder = services.GetService<AttemptRecorder>() ?? inner.GetService<AttemptRecorder>() ?? throw new InvalidOperationException(
                "UseModelMixShadow() needs an AttemptRecorder in the services or a UseModelMixLedger stage below it.");
            var pairs = recorder.Ledger.Store as IShadowPairStore ?? throw new InvalidOperationException(
                $"UseModelMixShadow(): the ledger store ({recorder.Ledger.Store.GetType().Name}) cannot store shadow pairs (it does not implement {nameof(IShadowPairStore)}).");
            var runner = new ShadowRunner(options, recorder.Prices, pairs, options.JudgeClient ?? inner, services.GetService<ModelMixMetrics>(), services.GetService<ILoggerFactory>()?.CreateLogger<ShadowRunner>());
            return new ShadowChatClient(inner, runner, recorder.Prices, ownsRunner: true);
        });
    }

    /// <summary>Renamed <see cref="UseModelMixShadow(ChatClientBuilder, ShadowRunner, AttemptRecorder)"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="runner">Runs the shadow jobs.</param>
    /// <param name="recorder">Prices the live answers.</param>
    /// <returns>The builder, for chaining.</returns>
    [Obsolete("Renamed UseModelMixShadow (every ModelMix stage is UseModelMix…); this alias goes in the next release.")]
    public static ChatClientBuilder UseShadow(this ChatClientBuilder builder, ShadowRunner runner, AttemptRecorder recorder) =>
        builder.UseModelMixShadow(runner, recorder);

    /// <summary>Renamed <see cref="UseModelMixShadow(ChatClientBuilder, Action{ShadowOptions}?)"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The builder, for chaining.</returns>
    [Obsolete("Renamed UseModelMixShadow (every ModelMix stage is UseModelMix…); this alias goes in the next release.")]
    public static ChatClientBuilder UseShadow(this ChatClientBuilder builder, Action<ShadowOptions> configure) =>
        builder.UseModelMixShadow(configure);
}
