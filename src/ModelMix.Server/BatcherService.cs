using Microsoft.Extensions.Hosting;
using ModelMix.Batching;

namespace ModelMix.Server;

/// <summary>Runs the <see cref="Batcher"/> for the life of the proxy: resumes unfinished batches on start, then submits, polls and collects.</summary>
internal sealed class BatcherService(Batcher batcher) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Run(() => batcher.RunAsync(stoppingToken), stoppingToken);
}
