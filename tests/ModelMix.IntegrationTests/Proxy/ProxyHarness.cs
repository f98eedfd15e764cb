using Anthropic;
using Anthropic.Core;
using FakeAnthropic;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using ModelMix.Ledger;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// A real proxy (Kestrel on a free loopback port, the SQLite ledger in a temp file) in front of a real
/// FakeAnthropic server, and an official Anthropic SDK client pointed at the proxy.
/// </summary>
internal sealed class ProxyHarness : IAsyncDisposable
{
    public const string UpstreamKey = "sk-upstream-secret-test-key-0123456789";
    public const string ClientKey = "client-key-for-the-proxy";

    private readonly TempDirectory _dir;
    private WebApplication? _app;

    private ProxyHarness(FakeAnthropicServer fake, TempDirectory dir, Dictionary<string, string?> settings, TimeProvider? time)
    {
        Fake = fake;
        _dir = dir;
        Settings = settings;
        Time = time;
    }

    public FakeAnthropicServer Fake { get; }

    public Dictionary<string, string?> Settings { get; }

    /// <summary>The proxy's clock when the test gave one (a fake clock), else null (the system clock).</summary>
    public TimeProvider? Time { get; }

    public string DbPath => Settings["ModelMix:Db"]!;

    public Uri ProxyUrl { get; private set; } = null!;

    public CapturingLoggerProvider Logs { get; } = new();

    /// <param name="configure">Changes to the proxy's settings.</param>
    /// <param name="time">The proxy's clock (a fake clock: waits are asserted on it, never slept); the system clock when null.</param>
    public static async Task<ProxyHarness> StartAsync(Action<Dictionary<string, string?>>? configure = null, TimeProvider? time = null)
    {
        var fake = await FakeAnthropicServer.StartAsync();
        var dir = new TempDirectory();
        var settings = new Dictionary<string, string?>
        {
            ["ModelMix:Upstream"] = fake.BaseUrl.ToString(),
            ["ModelMix:UpstreamApiKey"] = UpstreamKey,
            ["ModelMix:Db"] = Path.Combine(dir.Path, "ledger.db"),
            ["ModelMix:RetryBaseDelay"] = "00:00:00.010",
            ["ModelMix:MaxRetryDelay"] = "00:00:02",
        };
        configure?.Invoke(settings);
        var harness = new ProxyHarness(fake, dir, settings, time);
        try
        {
            await harness.StartProxyAsync();
        }
        catch
        {
            // A start that fails (tests of bad settings expect it) must not leave the fake running or the folder behind.
            await harness.DisposeAsync();
            throw;
        }

        return harness;
    }

    /// <summary>Starts (or restarts) the proxy on the same settings and ledger file.</summary>
    public async Task StartProxyAsync()
    {
        _app = ProxyApplication.Create("http://127.0.0.1:0", null, Settings, logging => logging.AddProvider(Logs), Time is { } time
            ? services => services.Replace(ServiceDescriptor.Singleton(time))
            : null);
        try
        {
            await _app.StartAsync();
        }
        catch
        {
            await _app.DisposeAsync(); // closes the ledger it opened
            _app = null;
            throw;
        }

        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        ProxyUrl = new Uri(address.TrimEnd('/') + "/");
    }

    /// <summary>Stops the proxy gracefully (the ledger flushes everything).</summary>
    public async Task StopProxyAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public ILedger Ledger => _app!.Services.GetRequiredService<ILedger>();

    /// <summary>The running proxy's services.</summary>
    public IServiceProvider Services => _app!.Services;

    public AnthropicClient Client(int maxRetries = 0) => new(new ClientOptions
    {
        ApiKey = ClientKey,
        BaseUrl = ProxyUrl.ToString().TrimEnd('/'),
        MaxRetries = maxRetries,
        ResponseValidation = true,
    });

    public HttpClient Http() => new() { BaseAddress = ProxyUrl };

    /// <summary>Reads every record from the ledger file through a fresh store.</summary>
    public async Task<List<LedgerRecord>> ReadLedgerAsync()
    {
        if (_app is not null)
        {
            await Ledger.FlushAsync();
        }

        await using var store = new SqliteLedgerStore(DbPath);
        await store.MigrateAsync(CancellationToken.None);
        var records = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(new LedgerQuery(), CancellationToken.None))
        {
            records.Add(record);
        }

        return records;
    }

    public async ValueTask DisposeAsync()
    {
        await StopProxyAsync();
        await Fake.DisposeAsync();
        _dir.Dispose();
    }
}
