using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Anthropic;
using Anthropic.Core;
using Microsoft.Extensions.AI;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// Builds the <c>modelmix serve</c> web application: configuration, services and endpoints. An app that hosts the
/// endpoints itself goes through the same code (<see cref="ModelMix.AspNetCore.ModelMixProxyExtensions"/>).
/// </summary>
internal static class ProxyApplication
{
    /// <summary>The address the proxy listens on when none is given: loopback only.</summary>
    public const string DefaultUrls = "http://127.0.0.1:8080";

    /// <summary>
    /// The runtime's switch that runs socket continuations on its event threads instead of the thread pool;
    /// <c>modelmix serve</c> sets it to 1 unless the environment does (docs/performance.md), and the start-up log says which.
    /// </summary>
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>The host's switch for reloading appsettings.json when it changes; the proxy turns it off (see <see cref="Create(string?, string?, IReadOnlyDictionary{string, string?}?, Action{ILoggingBuilder}?)"/>).</summary>
    internal const string ReloadConfigOnChangeKey = "hostBuilder:reloadConfigOnChange";

    /// <summary>
    /// Log levels in force unless configuration says otherwise: they are the lowest layer, so appsettings.json,
    /// environment variables and <c>--config</c> override them (docs/configuration.md).
    /// <list type="bullet">
    /// <item>ASP.NET Core logs warnings and errors only. At the Information default it wrote four lines per request
    /// ("Request starting", "Executing endpoint", …), which cost more CPU than the proxying; the ledger records every
    /// request.</item>
    /// <item>Hosting's request diagnostics are off. While that logger is enabled at any level, ASP.NET Core starts an
    /// <see cref="System.Diagnostics.Activity"/> and a log scope for every request, about 0.5 KB allocated each
    /// (docs/performance.md). Its errors are still logged: Kestrel logs an exception that escapes a request, and
    /// <c>modelmix serve</c> reports a failed start.</item>
    /// </list>
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, string?> LoggingDefaults = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "None",
    };

    /// <summary>
    /// Creates the proxy. Configuration comes, lowest precedence first, from appsettings.json in the working
    /// directory, environment variables (<c>ModelMix__Upstream</c>, …), the <paramref name="configFile"/>, then
    /// <paramref name="overrides"/> (the command-line flags).
    /// </summary>
    /// <param name="urls">Addresses to listen on, e.g. <c>http://127.0.0.1:8080</c>; port 0 picks a free port.</param>
    /// <param name="configFile">An optional JSON configuration file (<c>--config</c>); it must exist.</param>
    /// <param name="overrides">Configuration keys set by flags, e.g. <c>ModelMix:Upstream</c>.</param>
    /// <param name="configureLogging">Optional logging set-up (tests capture logs through it).</param>
    public static WebApplication Create(
        string? urls = null,
        string? configFile = null,
        IReadOnlyDictionary<string, string?>? overrides = null,
        Action<ILoggingBuilder>? configureLogging = null) =>
        Create(urls, configFile, overrides, configureLogging, configureServices: null);

    /// <summary>
    /// <see cref="Create(string?, string?, IReadOnlyDictionary{string, string?}?, Action{ILoggingBuilder}?)"/> with a
    /// last word on the services: tests replace the <see cref="TimeProvider"/> with a fake clock through it, so waits
    /// (retry-after, budget windows) are asserted on the clock instead of slept.
    /// </summary>
    internal static WebApplication Create(
        string? urls,
        string? configFile,
        IReadOnlyDictionary<string, string?>? overrides,
        Action<ILoggingBuilder>? configureLogging,
        Action<IServiceCollection>? configureServices)
    {
        // Configuration is read and validated once, at start. The host's default would also reload appsettings.json on
        // change, through a recursive file watcher on the content root (the working directory): with the ledger's
        // default ./modelmix.db there, every ledger commit woke that watcher (≈ 5 % of the proxy's CPU under load).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [$"--{ReloadConfigOnChangeKey}=false"],
            ContentRootPath = Directory.GetCurrentDirectory(),
        });
        ((IConfigurationBuilder)builder.Configuration).Sources.Insert(0, new MemoryConfigurationSource { InitialData = LoggingDefaults });
        if (configFile is not null)
        {
            if (!File.Exists(configFile))
            {
                throw new FileNotFoundException($"--config names '{configFile}', which does not exist.", configFile);
            }

            builder.Configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
        }

        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        builder.WebHost.UseUrls(urls ?? builder.Configuration["urls"] ?? DefaultUrls);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss ";
        });
        // A burst of log lines (an upstream outage logs every failed attempt) must not stall serving: past 10,000
        // queued lines the console logger drops new ones and says how many, instead of blocking the request thread.
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(console =>
        {
            console.QueueFullMode = Microsoft.Extensions.Logging.Console.ConsoleLoggerQueueFullMode.DropWrite;
            console.MaxQueueLength = 10_000;
        });
        // A start-up failure (bad configuration) is rethrown to the caller, which reports it in one line naming the
        // key (ServeCommand); the host's own "Hosting failed to start" entry would print its stack trace first.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        configureLogging?.Invoke(builder.Logging);

        AddServices(builder.Services, builder.Configuration);
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        MapEndpoints(app);
        return app;
    }

    /// <summary>Registers the proxy's services: options, price book, ledger, upstream client, the pipeline's steps and the doors.</summary>
    public static void AddServices(IServiceCollection services, IConfiguration configuration) => AddServices(services, configuration, hosted: false);

    /// <summary>
    /// <see cref="AddServices(IServiceCollection, IConfiguration)"/>; <paramref name="hosted"/>: for an app that hosts the
    /// endpoints itself (<c>AddModelMixProxy</c>), which keeps its own Kestrel transport and its own hosted services as
    /// they are (only the proxy's run supervised).
    /// </summary>
    internal static void AddServices(IServiceCollection services, IConfiguration configuration, bool hosted)
    {
        var firstService = services.Count;
        services.AddOptions<ProxyOptions>()
            .Bind(configuration.GetSection(ProxyOptions.SectionName))
            .PostConfigure(options => options.UpstreamApiKey ??= Environment.GetEnvironmentVariable("ANTHROPIC_API_KEY") is { Length: > 0 } key ? key : null)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<ProxyOptions>, ProxyOptionsValidator>();
        // Where requests run (AdaptiveSocketTransport, which replaces Kestrel's socket listener and decides inline
        // scheduling per connection): connections accepted while at most ModelMix:InlineConnections (4) are open run on
        // the socket event threads, later ones on the thread pool; ModelMix:InlineScheduling runs all of them inline.
        // Inline: less added latency and CPU per request; the pool: more peak throughput when many connections saturate
        // the cores (docs/performance.md). Safe only because nothing on the proxy's request path blocks a thread: the
        // SQLite stores leave such threads first (ModelMix.Threading.IoThreads).
        // Kestrel builds its transport before the host validates the options at start, so the transport asks the
        // validated ProxyOptions for the limit only when it binds its first address, after that validation: a bad value
        // (not a boolean or a number, a negative count) fails the start naming its key, not from inside Kestrel.
        if (!hosted)
        {
            services.AddSingleton<Microsoft.AspNetCore.Connections.IConnectionListenerFactory>(provider => new AdaptiveSocketTransport(
                provider.GetRequiredService<IOptions<Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions>>().Value,
                provider.GetRequiredService<ILoggerFactory>(),
                () => InlineConnectionLimit(provider.GetRequiredService<IOptions<ProxyOptions>>().Value)));
        }

        services.TryAddSingleton(TimeProvider.System); // an app that hosts the endpoints may have its own clock
        services.AddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<ProxyOptions>>().Value;
            return options.Prices is { Length: > 0 } path ? PriceBook.Load(path) : PriceBook.Default;
        });
        services.AddSingleton<ILedger>(provider =>
        {
            var options = provider.GetRequiredService<IOptions<ProxyOptions>>().Value;
            var ledgerOptions = new LedgerOptions { FlushInterval = options.LedgerFlushInterval, StopTimeout = LedgerStopTimeout(configuration) };
            return BufferedLedger.OpenAsync(
                options.StoreSetting, // a SQLite path or a PostgreSQL database (ModelMix.Stores.StoreLocation)
                ledgerOptions,
                provider.GetRequiredService<TimeProvider>(),
                provider.GetRequiredService<ILoggerFactory>()).GetAwaiter().GetResult();
        });
        services.AddSingleton<AttemptRecorder>();
        ProxyIntents.AddServices(services); // the attempt intent journal and its sweep (ProxyIntents.cs, docs/ledger.md)
        services.AddSingleton<ProxyRefusals>();
        services.AddSingleton<ClientHangups>();
        services.AddSingleton<ProxyErrors>();
        ProxyCascadeOptions.Add(services, configuration); // ModelMix:Cascade, bound as the library binds it, checked at start
        services.AddSingleton<ProxyCascadeSettings>();
        ProxyRouter.AddServices(services, configuration, MetaRouterClassifier); // the routing sections and the aliases by name (RoutingAliases), as AddModelMix registers them
        services.AddSingleton(provider => ActivatorUtilities.CreateInstance<ProxyCascade>(provider, CascadeVerifier(provider))); // the auto-cascade alias (ProxyCascade.cs)
        services.AddHttpClient(UpstreamSender.HttpClientName, (provider, client) =>
            {
                client.Timeout = Timeout.InfiniteTimeSpan;
                client.DefaultRequestHeaders.UserAgent.ParseAdd(UpstreamSender.UserAgent);
            })
            .RemoveAllLoggers() // the ledger records every attempt; per-request handler logging only costs CPU on the hot path
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AutomaticDecompression = DecompressionMethods.None,
                // The Messages API does not redirect; a 3xx is relayed as the upstream sent it. Without redirects the
                // handler chain has no RedirectHandler: one async frame (and its allocation) less per upstream call.
                AllowAutoRedirect = false,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                ConnectTimeout = TimeSpan.FromSeconds(10),
                MaxConnectionsPerServer = 1024,
            });
        ProxyFallback.AddServices(services, configuration); // ModelMix:Fallback, bound and validated as in the library
        ProxyLoopGuard.AddServices(services, configuration); // ModelMix:LoopGuard, likewise
        ProxyGuards.AddServices(services, configuration); // ModelMix:TierDrift, likewise
        ProxyPromptCaching.AddServices(services, configuration); // ModelMix:Caching: breakpoints, cache-aware routing, miss metric
        // The pipeline's steps (docs/architecture.md): body, guard, record, send, cooldown/fallback, relay, then the
        // pipeline that orders them, and the doors that enter it.
        services.AddSingleton<ProxyRequestReader>();
        services.AddSingleton<LoopGuardGate>();
        services.AddSingleton<AttemptLedger>();
        services.AddSingleton<UpstreamSender>();
        services.AddSingleton<FallbackSender>();
        services.AddSingleton<AnswerRelay>();
        services.AddSingleton<ProxyPipeline>();
        services.AddSingleton<MessagesForwarder>();
        services.AddSingleton<CountTokensForwarder>();
        services.AddSingleton<ModelsEndpoint>();
        ProxyTelemetry.AddServices(services);
        services.AddSingleton<OpenAi.ChatCompletionsHandler>();
        services.AddSingleton<OpenAi.ResponsesHandler>();
        ListenAddresses.Add(services, configuration); // urls and Kestrel:Endpoints, for the loopback-or-keys check (AuthBinding)
        services.AddKeysAndBudgets(); // virtual keys, budgets and the loopback-or-keys start-up check (KeysServices.cs)
        services.AddSingleton<AdminGate>(); // admin keys for /dashboard and /metrics (AdminGate.cs)
        services.AddSingleton<BrowserGuard>(); // Host, Origin and content-type checks against web pages (BrowserGuard.cs)
        services.AddCors(); // answers for ModelMix:AllowedOrigins (MapEndpoints)
        services.AddHostedService<ProxyStartup>();
        services.AddSingleton<Dashboard.DashboardWarmup>();
        services.AddHostedService(static provider => provider.GetRequiredService<Dashboard.DashboardWarmup>()); // the dashboard's closed days computed once after start (DashboardWarmup.cs)
        ProxyShadow.AddServices(services, configuration); // shadow mode, when ModelMix:Shadow is configured (ProxyShadow.cs)
        services.AddBatching(configuration); // the batch queue and batcher (BatchServices.cs, docs/batch.md)
        services.AddModelMixLedgerRetention(configuration); // ModelMix:Ledger:Retention: export then prune old raw rows (docs/ledger.md)
        // last: every hosted service registered so far runs supervised (SupervisedHostedService.cs)
        if (hosted)
        {
            services.AddHostedServiceSupervision(fromIndex: firstService); // the app's own hosted services stay as they are
        }
        else
        {
            services.AddHostedServiceSupervision();
        }
    }

    /// <summary>
    /// <c>ModelMix:Ledger:StopTimeout</c>, as in the library: how long the ledger's stop waits for its last commit, and
    /// the attempt intent journal's for its commit under way (<see cref="ProxyIntents.DisposeAsync"/>).
    /// </summary>
    internal static TimeSpan LedgerStopTimeout(IConfiguration configuration) =>
        configuration.GetValue($"{LedgerOptions.SectionName}:{nameof(LedgerOptions.StopTimeout)}", new LedgerOptions().StopTimeout);

    /// <summary>
    /// How many open connections run inline: all with <see cref="ProxyOptions.InlineScheduling"/>, else
    /// <see cref="ProxyOptions.InlineConnections"/> (a negative count, refused at start, counts as none). The transport
    /// and the start-up log both take it from here.
    /// </summary>
    internal static int InlineConnectionLimit(bool inlineScheduling, int inlineConnections) =>
        inlineScheduling ? int.MaxValue : Math.Max(0, inlineConnections);

    private static int InlineConnectionLimit(ProxyOptions options) => InlineConnectionLimit(options.InlineScheduling, options.InlineConnections);

    /// <summary>
    /// The meta-router's classifier: the official SDK pointed at the upstream with the upstream key (SDK retries off:
    /// each attempt is recorded by the ledger stage, linked to the routed request by its id), each call charged to the
    /// routed request's budget hold.
    /// </summary>
    private static RoutingCallCharger MetaRouterClassifier(IServiceProvider provider) =>
        new RoutingCallCharger(UpstreamChatClient(provider, "meta-router"), provider.GetRequiredService<AttemptRecorder>(), provider.GetRequiredService<TimeProvider>());

    /// <summary>The confidence cascade's verifier: the same SDK client over the upstream, its calls recorded under policy <c>cascade</c>.</summary>
    private static IChatClient CascadeVerifier(IServiceProvider provider) =>
        UpstreamChatClient(provider, provider.GetRequiredService<ProxyCascadeSettings>().Options.PolicyName);

    /// <summary>The official SDK pointed at the upstream (retries off), wrapped with the ledger stage recording under <paramref name="policy"/>.</summary>
    private static IChatClient UpstreamChatClient(IServiceProvider provider, string policy)
    {
        var options = provider.GetRequiredService<IOptions<ProxyOptions>>().Value;
        var client = new AnthropicClient(new ClientOptions
        {
            BaseUrl = options.Upstream.ToString().TrimEnd('/'),
            ApiKey = options.UpstreamApiKey is { Length: > 0 } key ? key : "no-upstream-key-configured",
            MaxRetries = 0,
            Timeout = options.UpstreamTimeout,
            Handlers = [new UpstreamRequestIdHandler()], // each record carries the upstream's request-id
        });
        return new ChatClientBuilder(client.AsIChatClient("claude-haiku-4-5"))
            .UseModelMixLedger(provider.GetRequiredService<AttemptRecorder>(), ledger =>
            {
                ledger.DefaultPolicy = policy;
                ledger.RegisterIntent = provider.GetRequiredService<ProxyIntents>().SdkCallHook; // each call journaled before it is sent
            })
            .Build(provider);
    }

    /// <summary>Maps the proxy's endpoints and its error handling (<see cref="ProxyErrors"/>).</summary>
    public static void MapEndpoints(WebApplication app)
    {
        // Whatever escapes a request is answered here, in the caller's API shape and with its request id: a transient
        // store error with 503 overloaded_error and retry-after, anything else with 500 (ProxyErrors.cs).
        var errors = app.Services.GetRequiredService<ProxyErrors>();
        app.Use((context, next) => errors.InvokeAsync(context, next));
        // Pages on ModelMix:AllowedOrigins may call the proxy from a browser: CORS answers, preflights included (the
        // middleware answers those itself). Only when origins are listed; BrowserGuard refuses any other Origin. Decided
        // from the validated ProxyOptions when the host builds the pipeline at start: no origins, no step at all.
        IApplicationBuilder pipeline = app;
        app.Use(next =>
        {
            if (AllowedOrigins(app.Services.GetRequiredService<IOptions<ProxyOptions>>().Value) is not { Length: > 0 } origins)
            {
                return next;
            }

            var cors = pipeline.New();
            cors.UseCors(policy => policy
                .WithOrigins(origins)
                .WithMethods("GET", "POST")
                .AllowAnyHeader()
                .WithExposedHeaders("request-id", "retry-after", "x-should-retry", ProxyRequestId.HeaderName, "x-modelmix-routed-model", "x-modelmix-cascade-path", "x-modelmix-confidence")
                .SetPreflightMaxAge(TimeSpan.FromMinutes(10)));
            cors.Run(next);
            return cors.Build();
        });

        app.UseRouting();
        // Routing's own answers get a body in the caller's API shape: no endpoint (404), or a known path asked with
        // another method (405, whose endpoint completes at once). Any other request's task is handed straight back, so
        // this costs nothing per request; UseStatusCodePages wrapped every request in a state machine and a feature
        // (≈ 0.5 KB allocated per request, docs/performance.md).
        app.Use(static (context, next) =>
        {
            if (context.GetEndpoint() is null)
            {
                return WriteRoutingErrorAsync(context, 404);
            }

            var handled = next(context);
            return handled.IsCompletedSuccessfully && context.Response.StatusCode == 405 && !context.Response.HasStarted
                ? WriteRoutingErrorAsync(context, 405)
                : handled;
        });

        // What a web page can make a browser send is refused before any endpoint runs: a Host that is not loopback in
        // open mode (DNS rebinding), an Origin not allowed, a JSON endpoint's body that is not JSON (BrowserGuard.cs).
        var services = app.Services;
        BrowserGuard? guard = null;
        app.Use((context, next) => (guard ??= services.GetRequiredService<BrowserGuard>()).InvokeAsync(context, next));

        ProxyEndpoints.Map(app, dashboard: true, metrics: true); // the API, /metrics and /dashboard (ProxyEndpoints.cs)
        app.MapGet("/healthz", () => Results.Json(new { status = "ok" }));
    }

    /// <summary>Writes routing's 404 or 405 with an error body in the caller's API shape.</summary>
    private static Task WriteRoutingErrorAsync(HttpContext context, int status)
    {
        var message = status == 404
            ? $"Not found: {context.Request.Method} {context.Request.Path} is not an endpoint of ModelMix."
            : $"Method {context.Request.Method} is not allowed on {context.Request.Path}.";
        return IsOpenAiPath(context)
            ? OpenAi.OpenAiError.WriteAsync(context, status, message)
            : AnthropicError.WriteAsync(context, status, message);
    }

    /// <summary>
    /// <see cref="ProxyOptions.AllowedOrigins"/> as browsers write origins (an entry that is not an origin fails the
    /// options' validation at start).
    /// </summary>
    private static string[] AllowedOrigins(ProxyOptions options) =>
        (options.AllowedOrigins ?? []).Select(BrowserGuard.NormalizeOrigin).OfType<string>().ToArray();

    /// <summary>Errors on the OpenAI-compatible endpoints come in OpenAI's shape, everywhere else in Anthropic's.</summary>
    internal static bool IsOpenAiPath(HttpContext context) => ProxyEndpointConventions.SpeaksOpenAi(context);
}
