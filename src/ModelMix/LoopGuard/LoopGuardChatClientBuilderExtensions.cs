using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelMix.Ledger;

namespace ModelMix.Pipeline;

/// <summary>Adds the loop guard (<see cref="LoopGuardChatClient"/>) to a <see cref="ChatClientBuilder"/>.</summary>
public static class LoopGuardChatClientBuilderExtensions
{
    /// <summary>
    /// Guards every session (<see cref="ModelMixChatOptions.GetSessionId"/>) against runaway loops: step, spend and
    /// spend-velocity limits and a repeated tool-call check. The services' <see cref="TimeProvider"/>,
    /// <see cref="AttemptRecorder"/> (after a ledger stage's below) and <see cref="ILoggerFactory"/> are used when registered and not set in the options.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the guard's options (from <c>ModelMix:LoopGuard</c> / <c>IOptions&lt;LoopGuardOptions&gt;</c>; limits are validated when the client is built).</param>
    /// <returns>The builder, for chaining.</returns>
    public static ChatClientBuilder UseModelMixLoopGuard(this ChatClientBuilder builder, Action<LoopGuardOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            var options = StageOptions.Create(services, configure);
            options.TimeProvider ??= services.GetService<TimeProvider>();
            var logger = services.GetService<ILoggerFactory>()?.CreateLogger<LoopGuardChatClient>();
            return new LoopGuardChatClient(inner, options, logger)
            {
                // After the options' and the inner ledger stage's own recorder.
                ServicesRecorder = services.GetService<AttemptRecorder>(),
            };
        });
    }

    /// <summary>Renamed <see cref="UseModelMixLoopGuard"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the guard's options.</param>
    /// <returns>The builder, for chaining.</returns>
    [Obsolete("Renamed UseModelMixLoopGuard (every ModelMix stage is UseModelMix…); this alias goes in the next release.")]
    public static ChatClientBuilder UseLoopGuard(this ChatClientBuilder builder, Action<LoopGuardOptions>? configure = null) =>
        builder.UseModelMixLoopGuard(configure);
}
