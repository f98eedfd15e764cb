using Anthropic;
using Anthropic.Core;
using FakeAnthropic;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;

namespace ModelMix.IntegrationTests.Hosting;

/// <summary>
/// The .NET door as an app adopts it: a Generic Host with appsettings-style configuration, <c>AddModelMix</c>, and
/// <c>AddChatClient(…).UseModelMix()</c> over the official SDK talking to FakeAnthropic over HTTP, with a real SQLite file.
/// </summary>
public sealed class AddModelMixTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private FakeAnthropicServer _server = null!;
    private AnthropicClient _sdk = null!;

    private string DbPath => Path.Combine(_dir.Path, "ledger.db");

    public async Task InitializeAsync()
    {
        _server = await FakeAnthropicServer.StartAsync();
        _sdk = new AnthropicClient(new ClientOptions { ApiKey = "test-key", BaseUrl = _server.BaseUrl.ToString(), MaxRetries = 0, OpenTelemetry = false });
    }

    public async Task DisposeAsync()
    {
        _sdk.Dispose();
        await _server.DisposeAsync();
        SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    private IHost Host(Dictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null, Action<ChatClientBuilder>? pipeline = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ModelMix:Store"] = DbPath });
        builder.Configuration.AddInMemoryCollection(settings ?? []);
        builder.Services.AddModelMix(builder.Configuration);
        services?.Invoke(builder.Services);
        var chat = builder.Services.AddChatClient(_sdk.AsIChatClient("claude-sonnet-4-5"));
        if (pipeline is null)
        {
            chat.UseModelMix();
        }
        else
        {
            pipeline(chat);
        }

        return builder.Build();
    }

    private long RowsInLedgerRecords()
    {
        using var connection = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM ledger_records";
        return (long)command.ExecuteScalar()!;
    }

    private string SentModel(int index) => _server.MessageRequests[index].Json!["model"]!.GetValue<string>();

    [Fact]
    public async Task One_paid_call_and_a_normal_host_stop_leave_the_row_in_ledger_records()
    {
        // An hour between commits: only the stop can have written the row.
        using var host = Host(new() { ["ModelMix:LedgerFlushInterval"] = "01:00:00" });
        await host.StartAsync();
        var chat = host.Services.GetRequiredService<IChatClient>();

        var answer = await chat.GetResponseAsync("Summarize the meeting notes.", new ChatOptions { ModelId = "claude-sonnet-4-5" });
        await host.StopAsync();

        Assert.NotEmpty(answer.Text);
        Assert.Equal(1, RowsInLedgerRecords());
    }

    [Fact]
    public async Task The_cascade_honours_ModelMix_Cascade_from_configuration()
    {
        using var host = Host(
            new() { ["ModelMix:Cascade:Threshold"] = "0.9", ["ModelMix:Cascade:MaxEscalations"] = "0" },
            pipeline: chat => chat.UseModelMixCascade().UseModelMixLedger());
        await host.StartAsync();
        var chat = host.Services.GetRequiredService<IChatClient>();

        var answer = await chat.GetResponseAsync("Is 17 prime?");
        var ledger = host.Services.GetRequiredService<ILedger>();
        await ledger.FlushAsync();
        var records = await ledger.ReadAsync(LedgerQuery.All).ToListAsync();
        await host.StopAsync();

        var record = Assert.Single(records);
        Assert.Contains("escalates below 0.90", record.Reason, StringComparison.Ordinal);
        Assert.Equal(0.9, answer.GetCascadeResult()!.Threshold);
    }

    [Fact]
    public async Task A_cascade_answer_carries_what_every_tier_cost()
    {
        _server.Enqueue(FakeReply.Message().WithUsage(input: 1000, output: 200)); // haiku: no confidence, escalates
        _server.Enqueue(FakeReply.Message().WithUsage(input: 1000, output: 200)); // sonnet: the last reachable tier
        using var host = Host(new() { ["ModelMix:Cascade:MaxEscalations"] = "1" }, pipeline: chat => chat.UseModelMixCascade().UseModelMixLedger());
        await host.StartAsync();
        var chat = host.Services.GetRequiredService<IChatClient>();

        var answer = await chat.GetResponseAsync("Is 17 prime?");
        await host.StopAsync();

        // Haiku 5.5 at $0.1 / $0.5 per MTok: 1,000 × 0.1 / 1e6 + 200 × 0.5 / 1e6 = 0.0001 + 0.0001 = 0.0002;
        // Sonnet 5.5 at $2 / $10: 1,000 × 2 / 1e6 + 200 × 10 / 1e6 = 0.004. Together $0.0042.
        Assert.Equal([PriceBook.Default.ResolveTier("haiku"), PriceBook.Default.ResolveTier("sonnet")], Enumerable.Range(0, 2).Select(SentModel));
        Assert.Equal(0.0042m, answer.GetCostUsd());
        Assert.Equal(0.0042m, answer.GetCascadeResult()!.TotalCost);
        Assert.Equal(2, answer.GetAttempts());
    }

    [Fact]
    public async Task Services_Configure_FallbackOptions_reaches_the_fallback_stage()
    {
        _server.Enqueue(FakeReply.Overloaded());
        _server.Enqueue(FakeReply.Message());
        using var host = Host(services: services => services.Configure<FallbackOptions>(o =>
        {
            o.Chain = ["opus", "sonnet"];
            o.MaxRetriesPerModel = 0;
        }));
        await host.StartAsync();
        var chat = host.Services.GetRequiredService<IChatClient>();

        await chat.GetResponseAsync("Approve this order.", new ChatOptions { ModelId = PriceBook.Default.ResolveTier("opus") });
        await host.StopAsync();

        Assert.Equal([PriceBook.Default.ResolveTier("opus"), PriceBook.Default.ResolveTier("sonnet")], Enumerable.Range(0, 2).Select(SentModel));
    }

    [Theory]
    [InlineData("ModelMix:Fallback:Chain:0", "gpt-9")]
    [InlineData("ModelMix:Cascade:Threshold", "1.5")]
    [InlineData("ModelMix:Ledger:Capacity", "0")]
    [InlineData("ModelMix:LedgerFlushInterval", "-00:00:01")]
    [InlineData("ModelMix:LoopGuard:MaxStepsPerSession", "0")]
    public async Task A_bad_setting_stops_the_start_and_names_its_key(string key, string value)
    {
        using var host = Host(new() { [key] = value });

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());

        var messages = error is AggregateException aggregate ? string.Join(" ", aggregate.InnerExceptions.Select(e => e.Message)) : error.Message;
        Assert.Contains(key, messages, StringComparison.Ordinal);
        Assert.Empty(_server.MessageRequests);
    }

    [Fact]
    public async Task A_bad_routing_rule_stops_the_start()
    {
        using var host = Host(new() { ["ModelMix:Routing:Default"] = "no-such-tier" });

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());

        Assert.Contains("no-such-tier", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_answer_carries_the_decision_and_the_exact_cost()
    {
        _server.Enqueue(FakeReply.Message().WithUsage(input: 1000, output: 200));
        _server.Enqueue(FakeReply.Stream().WithUsage(input: 1000, output: 200));
        using var host = Host();
        await host.StartAsync();
        var chat = host.Services.GetRequiredService<IChatClient>();
        var options = new ChatOptions { ModelId = "claude-sonnet-4-5" };

        var buffered = await chat.GetResponseAsync("Summarize the meeting notes.", options);
        var streamed = await chat.GetStreamingResponseAsync("Summarize the meeting notes.", options).ToChatResponseAsync();
        await host.StopAsync();

        // Sonnet 4.5 at $3 / $15 per MTok: 1,000 × 3 / 1e6 + 200 × 15 / 1e6 = 0.003 + 0.003 = $0.006.
        foreach (var answer in new[] { buffered, streamed })
        {
            Assert.Equal(0.006m, answer.GetCostUsd());
            Assert.Equal("claude-sonnet-4-5", answer.GetRoutedModel());
            Assert.Equal("caller", answer.GetPolicy());
            Assert.Equal("the caller asked for claude-sonnet-4-5", answer.GetRoutingReason());
            Assert.Equal(1, answer.GetAttempts());
            Assert.NotNull(answer.GetRequestId());
        }

        Assert.NotEqual(buffered.GetRequestId(), streamed.GetRequestId());
    }

    [Fact]
    public async Task The_cost_on_the_answer_adds_up_every_attempt_of_the_request()
    {
        // A 529 costs nothing; the fallback's answer is what is paid for.
        _server.Enqueue(FakeReply.Overloaded());
        _server.Enqueue(FakeReply.Message().WithUsage(input: 1000, output: 200));
        using var host = Host(new() { ["ModelMix:Fallback:Chain:0"] = "opus", ["ModelMix:Fallback:Chain:1"] = "sonnet", ["ModelMix:Fallback:MaxRetriesPerModel"] = "0" });
        await host.StartAsync();
        var chat = host.Services.GetRequiredService<IChatClient>();

        var answer = await chat.GetResponseAsync("Approve this order.", new ChatOptions { ModelId = PriceBook.Default.ResolveTier("opus") });
        await host.StopAsync();

        // $0 for the 529, then the sonnet tier (Sonnet 5.5 at $2 / $10 per MTok): 1,000 × 2 / 1e6 + 200 × 10 / 1e6 = $0.004.
        Assert.Equal(0.004m, answer.GetCostUsd());
        Assert.Equal(2, answer.GetAttempts());
        Assert.Equal(PriceBook.Default.ResolveTier("sonnet"), answer.GetRoutedModel());
    }

    [Fact]
    public async Task UseModelMix_adds_the_stages_the_configuration_asks_for()
    {
        using var host = Host(new()
        {
            ["ModelMix:LoopGuard:MaxStepsPerSession"] = "10",
            ["ModelMix:TierDrift:MaxShare:opus"] = "0.5",
            ["ModelMix:Caching:Ttl"] = "1h",
        });
        await host.StartAsync();
        var chat = host.Services.GetRequiredService<IChatClient>();

        await chat.GetResponseAsync("Summarize the meeting notes.", new ChatOptions().WithSessionId("s-1"));
        await host.StopAsync();

        Assert.NotNull(chat.GetService<LoopGuardChatClient>());
        Assert.NotNull(chat.GetService<ModelRoutingChatClient>());
        Assert.NotNull(chat.GetService<TierDriftChatClient>());
        Assert.NotNull(chat.GetService<FallbackChatClient>());
        Assert.NotNull(chat.GetService<PromptCachingChatClient>());
        Assert.NotNull(chat.GetService<LedgerChatClient>());
        Assert.Null(chat.GetService<ShadowChatClient>());
        Assert.Equal(1, RowsInLedgerRecords());
    }

    [Fact]
    public void Options_reach_the_stages_through_IOptions()
    {
        using var host = Host(services: services => services.Configure<CascadeOptions>(o => o.Threshold = 0.8), pipeline: chat => chat.UseModelMixCascade().UseModelMixLedger());

        var cascade = host.Services.GetRequiredService<IChatClient>().GetService<CascadeChatClient>()!;

        Assert.Equal(0.8, cascade.ThresholdFor(null));
        Assert.Equal(0.8, host.Services.GetRequiredService<IOptions<CascadeOptions>>().Value.Threshold);
    }
}
