using FakeAnthropic;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Server;
using ModelMix.Stores;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// The proxy's periodic budget sweep, on a real proxy over a real store: a hold left by a replica that died (written
/// straight into the store with a short TTL after the proxy started, so the start-up reconcile cannot see it) is
/// reclaimed without any request being refused, and a sweep that fails is logged and tried again.
/// </summary>
public sealed class BudgetSweepTests : IAsyncLifetime
{
    private static readonly BudgetLimit Limit = new("key:crashed", "key 'crashed'", BudgetWindow.Total, 1m);

    private readonly TempDirectory _dir = new();
    private readonly CapturingLoggerProvider _logs = new();
    private FakeAnthropicServer _fake = null!;
    private WebApplication? _proxy;

    public async Task InitializeAsync() => _fake = await FakeAnthropicServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.StopAsync();
            await _proxy.DisposeAsync();
        }

        await _fake.DisposeAsync();
        _dir.Dispose();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_hold_left_by_a_dead_replica_is_reclaimed_by_the_sweep_without_any_refused_request(bool postgres)
    {
        var store = postgres ? await (await PostgresServer.GetAsync()).CreateDatabaseAsync("sweep") : Path.Combine(_dir.Path, "sweep.db");
        await StartAsync(store);
        await using var budgets = StoreLocation.Parse(store).CreateBudgetStore();

        // The dead replica's hold: reserved after this proxy started (so its start-up reconcile did not see it).
        var hold = await budgets.ReserveAsync("req-of-a-dead-replica", [Limit], 0.4m, DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1));
        Assert.True(hold.Succeeded);
        Assert.Equal(0.4m, (await budgets.GetUsageAsync(Limit.Scope, BudgetWindow.Total, DateTimeOffset.UtcNow)).ReservedUsd);

        var usage = await WaitForAsync(
            () => budgets.GetUsageAsync(Limit.Scope, BudgetWindow.Total, DateTimeOffset.UtcNow),
            u => u.ReservedUsd == 0m);

        Assert.Equal(0m, usage.ReservedUsd);
        Assert.Equal(0m, usage.SpentUsd); // its request recorded nothing in the ledger: released, not charged
        Assert.Equal(0, _fake.MessageCount);
        // The sweep logs after its transaction commits: the usage above can read 0 a moment before the line is written.
        await WaitForAsync(() => Task.FromResult(_logs.Lines), lines => lines.Any(line => line.Contains("Budget sweep: reclaimed 1 expired budget hold", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_failing_sweep_is_logged_and_tried_again_at_the_next_tick_while_the_proxy_keeps_serving()
    {
        var store = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("sweepfail");
        await StartAsync(store);
        await using var budgets = StoreLocation.Parse(store).CreateBudgetStore();
        await budgets.MigrateAsync();

        await ExecuteAsync(store, "ALTER TABLE budget_reservations RENAME TO budget_reservations_away;");
        await WaitForAsync(() => Task.FromResult(_logs.Lines), lines => lines.Any(line => line.Contains("Budget sweep failed", StringComparison.Ordinal)));
        using (var http = new HttpClient { BaseAddress = ProxyUrl() })
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("v1/models")).StatusCode); // the host is still up
        }

        await ExecuteAsync(store, "ALTER TABLE budget_reservations_away RENAME TO budget_reservations;");
        var hold = await budgets.ReserveAsync("req-of-a-dead-replica", [Limit], 0.4m, DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1));
        Assert.True(hold.Succeeded);
        var usage = await WaitForAsync(
            () => budgets.GetUsageAsync(Limit.Scope, BudgetWindow.Total, DateTimeOffset.UtcNow),
            u => u.ReservedUsd == 0m);

        Assert.Equal(0m, usage.ReservedUsd);
        Assert.Contains(_logs.Lines, line => line.Contains("Budget sweep: reclaimed 1", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("2.00:00:00")]
    public async Task A_bad_sweep_interval_fails_the_start_naming_the_key(string interval)
    {
        await using var app = ProxyApplication.Create("http://127.0.0.1:0", null, Settings(Path.Combine(_dir.Path, "bad.db"), interval));

        var exception = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains("ModelMix:Budgets:SweepInterval", exception.Message, StringComparison.Ordinal);
    }

    private static async Task<T> WaitForAsync<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90); // generous: the machine may be loaded
        var value = await read();
        while (!done(value) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            value = await read();
        }

        return value;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private Dictionary<string, string?> Settings(string store, string interval) => new()
    {
        ["ModelMix:Upstream"] = _fake.BaseUrl.ToString(),
        ["ModelMix:UpstreamApiKey"] = "sk-upstream-secret-test-key-0123456789",
        ["ModelMix:Store"] = store,
        ["ModelMix:Budgets:SweepInterval"] = interval,
    };

    private async Task StartAsync(string store)
    {
        _proxy = ProxyApplication.Create("http://127.0.0.1:0", null, Settings(store, "00:00:01"), logging => logging.AddProvider(_logs));
        await _proxy.StartAsync();
    }

    private Uri ProxyUrl()
    {
        var server = (Microsoft.AspNetCore.Hosting.Server.IServer)_proxy!.Services.GetService(typeof(Microsoft.AspNetCore.Hosting.Server.IServer))!;
        var address = server.Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.TrimEnd('/') + "/");
    }
}
