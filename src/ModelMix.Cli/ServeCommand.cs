using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelMix.Server;

namespace ModelMix.Cli;

/// <summary><c>modelmix serve</c>: runs the Anthropic-compatible proxy on the SQLite ledger.</summary>
internal static partial class ServeCommand
{
    /// <summary>What <c>modelmix serve --help</c> says the proxy does (its environment is listed by <see cref="HelpText"/>).</summary>
    internal const string Description =
        "Run the proxy: Anthropic-compatible POST /v1/messages (streaming relayed) and /v1/messages/count_tokens, " +
        "OpenAI-compatible POST /v1/chat/completions and POST /v1/responses (stateless), GET /v1/models, the batch queue (/v1/modelmix/batch), " +
        "GET /metrics (Prometheus), /healthz and /dashboard. Every upstream call is priced and recorded in the ledger. " +
        "Settings, lowest precedence first: appsettings.json in the working directory, the environment, --config, the flags.";

    public static Command Create()
    {
        var urls = new Option<string?>("--urls")
        {
            Description = $"Addresses to listen on, ';'-separated. Default: the urls setting ($ASPNETCORE_URLS, $urls or --config), else {ProxyApplication.DefaultUrls}. " +
                "Beyond loopback only once a virtual key exists.",
        };
        var upstream = new Option<string?>("--upstream") { Description = "Base URL of the Anthropic API or a compatible upstream (default: $ModelMix__Upstream, else https://api.anthropic.com)." };
        var db = CommonOptions.Db();
        var config = new Option<string?>("--config") { Description = "A JSON configuration file (same keys as appsettings.json; it overrides them and the environment)." };
        var prices = CommonOptions.Prices();
        var command = new Command("serve", Description)
        {
            urls, upstream, db, config, prices,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            EnableInlineSocketCompletions();
            var overrides = new Dictionary<string, string?>();
            if (result.GetResult(db) is { Implicit: false })
            {
                overrides[$"{ProxyOptions.SectionName}:Db"] = result.GetValue(db);
                overrides[$"{ProxyOptions.SectionName}:Store"] = result.GetValue(db); // the flag wins over a Store in the config
            }

            if (result.GetValue(upstream) is { } upstreamUrl)
            {
                overrides[$"{ProxyOptions.SectionName}:Upstream"] = upstreamUrl;
            }

            if (result.GetValue(prices) is { } pricesPath)
            {
                overrides[$"{ProxyOptions.SectionName}:Prices"] = pricesPath;
            }

            try
            {
                await using var app = ProxyApplication.Create(result.GetValue(urls), result.GetValue(config), overrides); // no --urls: the urls setting, else the loopback default
                var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ServeCommand));
                try
                {
                    await app.StartAsync(cancellationToken);
                    await app.WaitForShutdownAsync(cancellationToken);
                }
                finally
                {
                    // The stop's last step, in the log (Debug) so a stop that never ends shows it got here: disposing
                    // the services (the shadow runner's last jobs, the intent journal's and the ledger's last commits,
                    // the stores' connections), each bounded by its own stop timeout.
                    LogDisposing(logger);
                }

                return 0;
            }
            catch (Exception exception) when (exception is Microsoft.Extensions.Options.OptionsValidationException or FileNotFoundException or ModelMix.Pricing.PricingException or ModelMix.Routing.RoutingConfigurationException or InvalidOperationException or IOException or InvalidDataException)
            {
                // A malformed JSON config file: the outer message names the file, the inner one the line and position.
                var detail = exception is InvalidDataException { InnerException: { } inner } ? " " + inner.Message : string.Empty;
                await Console.Error.WriteLineAsync("modelmix serve: " + exception.Message + detail);
                return 1;
            }
        });
        return command;
    }

    [LoggerMessage(EventId = 5710, Level = LogLevel.Debug, Message = "Hosted services stopped; disposing the proxy's services (shadow runner, ledger, stores)")]
    private static partial void LogDisposing(ILogger logger);

    /// <summary>
    /// Turns inline socket completions on for this process unless the environment already says either way: the code
    /// after each upstream read then runs on the socket event thread, saving a thread-pool hand-off per read (in paired
    /// runs 8–18 % less CPU per request and 4–25 % more throughput, docs/performance.md). It is safe because nothing on the
    /// proxy's path blocks: the SQLite stores leave such threads before their synchronous work (ModelMix.Threading.IoThreads).
    /// The runtime reads the variable once, when the first socket operation starts, so it is set before the host is built.
    /// <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0</c> keeps the runtime's default.
    /// </summary>
    private static void EnableInlineSocketCompletions()
    {
        if (Environment.GetEnvironmentVariable(ProxyApplication.InlineCompletionsVariable) is null)
        {
            Environment.SetEnvironmentVariable(ProxyApplication.InlineCompletionsVariable, "1");
        }
    }
}
