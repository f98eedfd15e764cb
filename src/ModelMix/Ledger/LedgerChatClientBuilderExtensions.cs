using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelMix.Ledger;

namespace ModelMix.Pipeline;

/// <summary>Adds the ledger stage (<see cref="LedgerChatClient"/>) to a <see cref="ChatClientBuilder"/>.</summary>
public static class LedgerChatClientBuilderExtensions
{
    /// <summary>
    /// Records every call of the clients below this stage in the ledger of <paramref name="recorder"/>, priced.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="recorder">Prices attempts and records them.</param>
    /// <param name="configure">Changes the stage's options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static ChatClientBuilder UseModelMixLedger(this ChatClientBuilder builder, AttemptRecorder recorder, Action<LedgerChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(recorder);
        return builder.Use((inner, services) => Create(inner, services, recorder, configure));
    }

    /// <summary>
    /// Records every call of the clients below this stage, priced, with the <see cref="AttemptRecorder"/> registered in
    /// the builder's services (also <see cref="TimeProvider"/> and <see cref="ILoggerFactory"/> when registered).
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the stage's options.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="InvalidOperationException">When the client is built: no <see cref="AttemptRecorder"/> is registered.</exception>
    public static ChatClientBuilder UseModelMixLedger(this ChatClientBuilder builder, Action<LedgerChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) => Create(inner, services, recorder: null, configure));
    }

    private static LedgerChatClient Create(IChatClient inner, IServiceProvider services, AttemptRecorder? recorder, Action<LedgerChatClientOptions>? configure)
    {
        recorder ??= services.GetService<AttemptRecorder>() ?? throw new InvalidOperationException(
            $"UseModelMixLedger() needs an {nameof(AttemptRecorder)} in the services (services.AddModelMix(configuration) registers one, or services.AddSingleton(new AttemptRecorder(PriceBook.Default, ledger))), or pass one to UseModelMixLedger(recorder).");
        var options = StageOptions.Create(services, configure);
        options.TimeProvider ??= services.GetService<TimeProvider>();
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger<LedgerChatClient>();
        return new LedgerChatClient(inner, recorder, options, logger);
    }
}
