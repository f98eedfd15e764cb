using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelMix.Batching;

namespace ModelMix.Server;

/// <summary>
/// Runs the <see cref="Batcher"/> for the life of the proxy: resumes unfinished batches on start, then submits, polls
/// and collects. On a store shared by several replicas (PostgreSQL, <see cref="IBatchLeadership"/>) only the replica
/// holding the batch lease runs it; the others stand by and take over when it stops or dies. A fault of one job never
/// ends it (the <see cref="Batcher"/> isolates faults per job and submission); should it end anyway, the supervisor
/// (<see cref="SupervisedHostedService"/>) logs it at Error and starts it again with back-off.
/// </summary>
internal sealed class BatcherService(Batcher batcher, IBatchStore store, BatcherOptions options, ILogger<BatcherService> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => store is IBatchLeadership leadership
        ? Task.Run(() => BatcherLeadership.RunAsync(batcher, leadership, options.LeaderCheckInterval, logger, stoppingToken), stoppingToken)
        : Task.Run(() => batcher.RunAsync(stoppingToken), stoppingToken);
}
