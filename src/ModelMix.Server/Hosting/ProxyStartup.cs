using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Server;

/// <summary>
/// Opens the price book and the ledger when the proxy starts (so a broken file fails the start, not the first
/// request) and says, once, what the proxy is doing and whether an upstream key is missing.
/// </summary>
internal sealed class ProxyStartup(IOptions<ProxyOptions> options, PriceBook prices, ILedger ledger, ProxyRouter router, ProxyFallback fallback, ProxyLoopGuard loopGuard, ProxyGuards guards, IServiceProvider services, ILogger<ProxyStartup> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        _ = services.GetService<ProxyShadow>(); // shadow mode, when configured: its candidate and judge resolve against the price book now, or the start fails
        _ = ledger;
        _ = fallback;
        _ = loopGuard;
        _ = guards;
        Log.Started(logger, settings.Upstream, ModelMix.Stores.StoreLocation.Parse(settings.StoreSetting).Display, prices.SourceName);
        var inline = Environment.GetEnvironmentVariable(ProxyApplication.InlineCompletionsVariable);
        Log.SocketCompletions(logger, Where(inline == "1"), inline ?? "unset");
        var requestsWhere = ProxyApplication.InlineConnectionLimit(settings.InlineScheduling, settings.InlineConnections) switch
        {
            int.MaxValue => Where(true) + " on every connection",
            0 => Where(false),
            var limit => $"{Where(true)} on connections accepted while at most {limit} are open, {Where(false)} past that",
        };
        Log.RequestScheduling(logger, requestsWhere, settings.InlineScheduling, settings.InlineConnections);
        if (router.LearnedRouter is { } learned)
        {
            if (learned.Forced)
            {
                ProxyLearnedRouter.Forced(logger, learned.Alias, learned.Path, learned.Reason);
            }
            else
            {
                ProxyLearnedRouter.Served(logger, learned.Alias, learned.Path, learned.Reason);
            }
        }

        if (string.IsNullOrEmpty(settings.UpstreamApiKey))
        {
            Log.NoUpstreamKey(logger);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Commits what is buffered while the services that stop after this one (budget sweeps and leases) can still record.
    /// Bounded by <c>ModelMix:Ledger:StopTimeout</c> together with the ledger's disposal (BufferedLedger.FlushBeforeStopAsync):
    /// an unbounded flush here waited on a store that did not answer until the host's 30 s shutdown timeout.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken) =>
        ledger is BufferedLedger buffered ? buffered.FlushBeforeStopAsync(cancellationToken) : ledger.FlushAsync(cancellationToken);

    private static string Where(bool inline) => inline ? "inline on the socket event threads" : "on the thread pool";
}
