using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelMix.Batching;
using ModelMix.Pricing;

namespace ModelMix.Pipeline;

/// <summary>Adds the batching stage (<see cref="BatchingChatClient"/>) to a <see cref="ChatClientBuilder"/>.</summary>
public static class BatchingChatClientBuilderExtensions
{
    /// <summary>
    /// Queues calls marked non-urgent (<see cref="ModelMixChatOptions.WithBatch"/> or a routing rule with
    /// <c>"Batch": true</c>) in <paramref name="store"/> for the Message Batches API instead of sending them. Compose it
    /// below routing, fallback and prompt caching, above the ledger; run the batcher with a <see cref="BatchRunner"/>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="store">The durable queue (e.g. a <c>SqliteBatchStore</c> on the ledger's file).</param>
    /// <param name="configure">Changes the stage's options, e.g. <c>o => o.Batcher = runner.Batcher</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static ChatClientBuilder UseModelMixBatching(this ChatClientBuilder builder, IBatchStore store, Action<BatchingChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(store);
        return builder.Use((inner, services) => Create(inner, services, store, configure));
    }

    /// <summary>
    /// Queues calls marked non-urgent in the <see cref="IBatchStore"/> registered in the builder's services; wakes the
    /// registered <see cref="Batcher"/> (or <see cref="BatchRunner"/>'s) and uses the registered <see cref="PriceBook"/>,
    /// <see cref="TimeProvider"/> and logger factory, when present.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the stage's options.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="InvalidOperationException">When the client is built: no <see cref="IBatchStore"/> is registered or set.</exception>
    public static ChatClientBuilder UseModelMixBatching(this ChatClientBuilder builder, Action<BatchingChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) => Create(inner, services, store: null, configure));
    }

    /// <summary>Renamed <see cref="UseModelMixBatching(ChatClientBuilder, IBatchStore, Action{BatchingChatClientOptions}?)"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="store">The durable queue.</param>
    /// <param name="configure">Changes the stage's options.</param>
    /// <returns>The builder, for chaining.</returns>
    [Obsolete("Renamed UseModelMixBatching (every ModelMix stage is UseModelMix…); this alias goes in the next release.")]
    public static ChatClientBuilder UseBatching(this ChatClientBuilder builder, IBatchStore store, Action<BatchingChatClientOptions>? configure = null) =>
        builder.UseModelMixBatching(store, configure);

    /// <summary>Renamed <see cref="UseModelMixBatching(ChatClientBuilder, Action{BatchingChatClientOptions}?)"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the stage's options.</param>
    /// <returns>The builder, for chaining.</returns>
    [Obsolete("Renamed UseModelMixBatching (every ModelMix stage is UseModelMix…); this alias goes in the next release.")]
    public static ChatClientBuilder UseBatching(this ChatClientBuilder builder, Action<BatchingChatClientOptions>? configure = null) =>
        builder.UseModelMixBatching(configure);

    private static BatchingChatClient Create(IChatClient inner, IServiceProvider services, IBatchStore? store, Action<BatchingChatClientOptions>? configure)
    {
        var options = StageOptions.Create<BatchingChatClientOptions>(services, null);
        options.Store = store ?? options.Store;
        configure?.Invoke(options);
        options.Store ??= services.GetService<IBatchStore>() ?? throw new InvalidOperationException(
            $"UseModelMixBatching() needs an {nameof(IBatchStore)} in the services (e.g. services.AddSingleton<IBatchStore>(new SqliteBatchStore(\"modelmix.db\"))), or pass one to UseModelMixBatching(store).");
        options.Batcher ??= services.GetService<Batcher>() ?? services.GetService<BatchRunner>()?.Batcher;
        options.PriceBook ??= services.GetService<PriceBook>();
        options.TimeProvider ??= services.GetService<TimeProvider>();
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger<BatchingChatClient>();
        return new BatchingChatClient(inner, options, logger);
    }
}
