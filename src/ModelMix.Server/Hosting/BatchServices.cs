using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Batching;
using ModelMix.Ledger;
using ModelMix.Stores;

namespace ModelMix.Server;

/// <summary>Registers the batch queue (in the ledger's store: its SQLite file or the shared PostgreSQL database), the batcher and its endpoints.</summary>
internal static class BatchServices
{
    /// <summary>The configuration section of <see cref="BatcherOptions"/>.</summary>
    public const string SectionName = "ModelMix:Batch";

    public static IServiceCollection AddBatching(this IServiceCollection services, IConfiguration configuration)
    {
        // Validated when the proxy starts: a bad value (MaxJobFailures 0, a negative delay) fails the start naming its key.
        services.AddOptions<BatcherOptions>().Bind(configuration.GetSection(SectionName)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<BatcherOptions>, BatcherOptionsValidator>();
        services.AddSingleton(provider => provider.GetRequiredService<IOptions<BatcherOptions>>().Value);
        services.AddSingleton<IBatchStore>(provider =>
        {
            // The ledger's store: its SQLite file, or the PostgreSQL database the replicas share (ModelMix:Store).
            var store = provider.GetRequiredService<StoreLocation>().CreateBatchStore();
            store.MigrateAsync().GetAwaiter().GetResult();
            return store;
        });
        services.AddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<ProxyOptions>>().Value;
            var http = provider.GetRequiredService<IHttpClientFactory>().CreateClient(UpstreamSender.HttpClientName);
            var api = new MessageBatchesClient(http, options.Upstream, options.UpstreamApiKey, options.DefaultAnthropicVersion);
            var batcher = new Batcher(
                provider.GetRequiredService<IBatchStore>(),
                api,
                provider.GetRequiredService<AttemptRecorder>(),
                provider.GetRequiredService<BatcherOptions>(),
                provider.GetRequiredService<TimeProvider>(),
                provider.GetRequiredService<ILogger<Batcher>>());
            batcher.JobEnded = provider.GetRequiredService<BatchBudgets>().SettleAsync;
            return batcher;
        });
        services.AddSingleton<BatchBudgets>();
        services.AddSingleton<BatchQueue>();
        services.AddSingleton<BatchEndpoints>();
        services.AddHostedService<BatcherService>();
        return services;
    }
}

/// <summary>Refuses <c>ModelMix:Batch</c> settings the batcher cannot work with (<see cref="BatcherOptions.Problems"/>).</summary>
internal sealed class BatcherOptionsValidator : IValidateOptions<BatcherOptions>
{
    public ValidateOptionsResult Validate(string? name, BatcherOptions options) =>
        options.Problems() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
