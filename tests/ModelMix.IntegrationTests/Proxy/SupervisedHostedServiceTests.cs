using System.Net;
using System.Text;
using FakeAnthropic;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Server;
using ModelMix.Testing;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// Every hosted service of the proxy runs supervised (<see cref="SupervisedHostedService"/>): a crash or a silent end
/// is logged at Error with the service's name and the service is started again with a bounded back-off; the proxy
/// keeps serving; a failed start still fails the start.
/// </summary>
public sealed class SupervisedHostedServiceTests
{
    [Fact]
    public async Task A_crashing_service_is_logged_at_error_by_name_and_started_again_with_a_back_off_doubling_from_1_s_to_60_s()
    {
        var time = new FallbackTestTime(); // timers fire at once; the delays asked for are recorded
        var logs = new CapturingLoggerProvider();
        var flaky = new Flaky(failures: 8);
        await using var supervised = new SupervisedHostedService(flaky, time, Logger(logs));

        await supervised.StartAsync(CancellationToken.None);
        await WaitUntilAsync(() => flaky.Runs == 9 && supervised.Restarts == 8);

        Assert.Equal([1, 2, 4, 8, 16, 32, 60, 60], time.Delays.Select(d => d.TotalSeconds));
        var errors = logs.Lines.Where(l => l.StartsWith("Error", StringComparison.Ordinal)).ToList();
        Assert.Equal(8, errors.Count);
        Assert.All(errors, l => Assert.Contains("Hosted service Flaky failed", l, StringComparison.Ordinal));
        Assert.Contains("boom 1", errors[0], StringComparison.Ordinal);
        Assert.Equal(8, logs.Lines.Count(l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("Flaky started again", StringComparison.Ordinal)));

        await supervised.StopAsync(CancellationToken.None);
        Assert.True(flaky.Stopped.IsCancellationRequested); // the running (ninth) run was stopped
        Assert.Equal(9, flaky.Runs);
    }

    [Fact]
    public async Task A_service_that_ends_without_being_asked_to_stop_is_logged_at_error_and_started_again()
    {
        var time = new FallbackTestTime();
        var logs = new CapturingLoggerProvider();
        var quitter = new Flaky(failures: 2, endQuietly: true);
        await using var supervised = new SupervisedHostedService(quitter, time, Logger(logs));

        await supervised.StartAsync(CancellationToken.None);
        await WaitUntilAsync(() => quitter.Runs == 3);

        Assert.Equal(2, logs.Lines.Count(l => l.StartsWith("Error", StringComparison.Ordinal) && l.Contains("Flaky ended without being asked to stop", StringComparison.Ordinal)));
        await supervised.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Stopping_during_the_back_off_stops_at_once_and_never_starts_it_again()
    {
        // A clock that stands still: the 1 s back-off never ends unless the test moves it.
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var logs = new CapturingLoggerProvider();
        var flaky = new Flaky(failures: int.MaxValue);
        await using var supervised = new SupervisedHostedService(flaky, time, Logger(logs));

        await supervised.StartAsync(CancellationToken.None);
        await WaitUntilAsync(() => logs.Lines.Any(l => l.StartsWith("Error", StringComparison.Ordinal)));

        // A stop that waited out the back-off would never return on this clock (the 30 s is a limit, not a measurement).
        await supervised.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        // The stop awaited the supervision, so nothing is left to start it again, however far the clock moves.
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal((1, 0), (flaky.Runs, supervised.Restarts));
    }

    [Fact]
    public async Task A_service_that_cannot_start_still_fails_the_start()
    {
        await using var supervised = new SupervisedHostedService(new CannotStart(), TimeProvider.System, Logger(new CapturingLoggerProvider()));
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => supervised.StartAsync(CancellationToken.None));
        Assert.Equal("no store", failure.Message);
    }

    [Fact]
    public async Task In_the_proxy_a_hosted_service_that_keeps_crashing_is_restarted_and_logged_while_healthz_and_messages_keep_answering()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        using var dir = new TempDirectory();
        var logs = new CapturingLoggerProvider();
        var settings = new Dictionary<string, string?>
        {
            ["ModelMix:Upstream"] = fake.BaseUrl.ToString(),
            ["ModelMix:UpstreamApiKey"] = ProxyHarness.UpstreamKey,
            ["ModelMix:Db"] = Path.Combine(dir.Path, "ledger.db"),
        };
        await using var app = ProxyApplication.Create("http://127.0.0.1:0", null, settings, logging =>
        {
            logging.AddProvider(logs);
            logging.Services.AddHostedService<AlwaysCrashing>(); // registered before the proxy's own services, so supervised like them
        });
        await app.StartAsync();
        var url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/");
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(10) };

        // Every hosted service but the web server itself (added by the host when it is built: it has no background work).
        var hosted = app.Services.GetServices<IHostedService>().Where(s => s.GetType().Name != "GenericWebHostService").ToList();
        Assert.All(hosted, service => Assert.IsType<SupervisedHostedService>(service));
        Assert.Contains(hosted.Cast<SupervisedHostedService>(), s => s.Name == "BatcherService");
        Assert.Contains(hosted.Cast<SupervisedHostedService>(), s => s.Name == "BudgetSweepService");
        Assert.Equal(BackgroundServiceExceptionBehavior.Ignore, app.Services.GetRequiredService<IOptions<HostOptions>>().Value.BackgroundServiceExceptionBehavior);
        var crashing = hosted.Cast<SupervisedHostedService>().Single(s => s.Name == nameof(AlwaysCrashing));

        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (crashing.Restarts < 2) // 1 s, then 2 s
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "the crashing service was not started again");
            Assert.False(lifetime.ApplicationStopping.IsCancellationRequested, "the host is stopping");
            using var health = await http.GetAsync("healthz");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            using var message = await http.PostAsync("v1/messages", new StringContent("""{"model":"claude-haiku-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, message.StatusCode);
            await Task.Delay(200);
        }

        var errors = logs.Lines.Where(l => l.StartsWith("Error ModelMix.Server.SupervisedHostedService", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count >= 2, string.Join('\n', logs.Lines));
        Assert.All(errors, l => Assert.Contains("Hosted service AlwaysCrashing failed", l, StringComparison.Ordinal));
        Assert.Contains("the sweep database is gone", errors[0], StringComparison.Ordinal);
        await app.StopAsync();
    }

    private static ILogger<SupervisedHostedService> Logger(CapturingLoggerProvider logs) =>
        LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Trace)).CreateLogger<SupervisedHostedService>();

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "timed out");
            await Task.Delay(20);
        }
    }

    /// <summary>Fails (throws, or ends quietly) on its first <c>failures</c> runs, then runs until stopped.</summary>
    private sealed class Flaky(int failures, bool endQuietly = false) : BackgroundService
    {
        private int _runs;

        public int Runs => Volatile.Read(ref _runs);

        public CancellationToken Stopped { get; private set; }

        protected override Task ExecuteAsync(CancellationToken stoppingToken)
        {
            var run = Interlocked.Increment(ref _runs);
            Stopped = stoppingToken;
            if (run <= failures)
            {
                return endQuietly ? Task.CompletedTask : throw new InvalidOperationException($"boom {run}");
            }

            return Task.Delay(Timeout.Infinite, stoppingToken);
        }
    }

    /// <summary>A background service that always crashes after a moment.</summary>
    private sealed class AlwaysCrashing : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            await Task.Delay(50, stoppingToken);
            throw new IOException("the sweep database is gone");
        }
    }

    private sealed class CannotStart : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => throw new InvalidOperationException("no store");

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
