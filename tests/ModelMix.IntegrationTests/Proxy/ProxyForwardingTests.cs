using System.Net;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using FakeAnthropic;
using ModelMix.IntegrationTests.Support;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// The official Anthropic C# SDK talks to the proxy, the proxy to FakeAnthropic over real HTTP; every attempt lands
/// priced in the SQLite ledger.
/// </summary>
public sealed class ProxyForwardingTests : IAsyncLifetime
{
    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private static MessageCreateParams Ask(string model = "claude-haiku-4-5", int maxTokens = 256) => new()
    {
        Model = model,
        MaxTokens = maxTokens,
        Messages = [new UserMessageParam("Which tier should summarise this ticket?")],
    };

    [Fact]
    public async Task Sdk_request_is_forwarded_priced_and_recorded()
    {
        using var client = _harness.Client();

        var message = await client.Messages.Create(Ask());

        Assert.Equal("claude-haiku-4-5-20251001", message.Model);
        Assert.Equal(19, message.Usage.InputTokens);
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal(LedgerStatus.Ok, record.Status);
        Assert.Equal("claude-haiku-4-5", record.RequestedModel);
        Assert.Equal("claude-haiku-4-5", record.RoutedModel);
        Assert.Equal("claude-haiku-4-5-20251001", record.ResponseModel);
        Assert.Equal(1, record.Attempt);
        Assert.Equal(200, record.HttpStatus);
        Assert.False(record.Streaming);
        Assert.Equal(19, record.Usage.InputTokens);
        Assert.Equal(33, record.Usage.OutputTokens);
        // Haiku 4.5 at $1 / $5 per MTok: 19 * 1 / 1e6 = 0.000019; 33 * 5 / 1e6 = 0.000165; total 0.000184.
        Assert.Equal(0.000019m, record.Cost!.Value.Input);
        Assert.Equal(0.000165m, record.Cost!.Value.Output);
        Assert.Equal(0.000184m, record.Cost!.Value.Total);
        Assert.StartsWith("req_", record.UpstreamRequestId, StringComparison.Ordinal);
        Assert.StartsWith("mmx_", record.RequestId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upstream_gets_the_configured_key_and_never_the_clients()
    {
        using var client = _harness.Client();

        await client.Messages.Create(Ask());

        var forwarded = Assert.Single(_harness.Fake.MessageRequests);
        Assert.Equal(ProxyHarness.UpstreamKey, forwarded.Headers["x-api-key"]);
        Assert.DoesNotContain(forwarded.Headers, header => header.Value.Contains(ProxyHarness.ClientKey, StringComparison.Ordinal));
        Assert.Equal("2026-10-21", forwarded.Headers["anthropic-version"]);
    }

    [Fact]
    public async Task Upstream_calls_and_the_command_carry_the_one_version_set_in_the_build_props()
    {
        // The version lives in one place (Directory.Build.props' VersionPrefix): the User-Agent, --version and the
        // packages all read it from there.
        var props = System.Xml.Linq.XDocument.Load(Path.Combine(RepositoryPaths.Root, "Directory.Build.props"));
        var version = props.Descendants("VersionPrefix").Single().Value;
        using var client = _harness.Client();

        await client.Messages.Create(Ask());

        Assert.Equal("ModelMix/" + version, Assert.Single(_harness.Fake.MessageRequests).Headers["user-agent"]);
        var cli = Path.Combine(RepositoryPaths.Root, "src", "ModelMix.Cli", "bin", RepositoryPaths.Configuration, RepositoryPaths.Framework, "ModelMix.Cli.dll");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(cli);
        start.ArgumentList.Add("--version");
        using var process = System.Diagnostics.Process.Start(start)!;
        var printed = (await process.StandardOutput.ReadToEndAsync()).Trim();
        await process.WaitForExitAsync();
        Assert.StartsWith(version + "+", printed, StringComparison.Ordinal); // the version, then the commit it was built from
    }

    [Fact]
    public async Task Request_body_reaches_the_upstream_byte_for_byte()
    {
        var body = SharedFixtures.Read("messages/request-with-system-tools-cache-control.json");
        using var http = _harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = ProxyValidationTests.Json(body) };
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("anthropic-beta", "some-future-beta-2027-01-01");
        _harness.Fake.Enqueue(FakeReply.Message("messages/response-cache-write.json"));

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var forwarded = Assert.Single(_harness.Fake.MessageRequests);
        Assert.Equal(body, forwarded.Body);
        Assert.Equal("some-future-beta-2027-01-01", forwarded.Headers["anthropic-beta"]);
        Assert.Equal("2023-06-01", forwarded.Headers["anthropic-version"]);
    }

    [Fact]
    public async Task Cache_writes_are_priced_by_ttl()
    {
        var body = SharedFixtures.Read("messages/request-with-system-tools-cache-control.json");
        _harness.Fake.Enqueue(FakeReply.Message("messages/response-cache-write.json"));
        using var http = _harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = ProxyValidationTests.Json(body) };
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal(3150, record.Usage.CacheWrite5mTokens);
        Assert.Equal(2412, record.Usage.CacheWrite1hTokens);
        // Sonnet 4.5 ($3 input): 5m write 3.75/MTok * 3150 = 0.0118125; 1h write 6/MTok * 2412 = 0.014472;
        // input 29 * 3 = 0.000087; output 87 * 15 = 0.001305. Total 0.0276765.
        Assert.Equal(0.0118125m, record.Cost!.Value.CacheWrite5m);
        Assert.Equal(0.014472m, record.Cost!.Value.CacheWrite1h);
        Assert.Equal(0.0276765m, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task Stream_is_relayed_event_by_event_and_its_usage_recorded()
    {
        using var client = _harness.Client();
        var request = Ask();
        var types = new List<string>();

        await foreach (var streamEvent in client.Messages.CreateStreaming(request))
        {
            types.Add(streamEvent.Json.GetProperty("type").GetString()!);
        }

        Assert.Equal("message_start", types[0]);
        Assert.Equal("message_stop", types[^1]);
        Assert.Contains("message_delta", types);
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.True(record.Streaming);
        Assert.Equal(LedgerStatus.Ok, record.Status);
        Assert.Equal(16, record.Usage.InputTokens);
        Assert.Equal(22, record.Usage.OutputTokens);
        // Haiku 4.5: 16 * 1 / 1e6 + 22 * 5 / 1e6 = 0.000016 + 0.00011 = 0.000126.
        Assert.Equal(0.000126m, record.Cost!.Value.Total);
    }

    [Fact]
    public async Task Rate_limit_with_retry_after_is_retried_and_both_attempts_recorded()
    {
        _harness.Fake.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(1)));
        using var client = _harness.Client();

        var message = await client.Messages.Create(Ask());

        Assert.Equal("claude-haiku-4-5-20251001", message.Model);
        var records = await _harness.ReadLedgerAsync();
        Assert.Equal(2, records.Count);
        Assert.All(records, record => Assert.Equal(records[0].RequestId, record.RequestId));
        var failed = records.Single(record => record.Attempt == 1);
        Assert.Equal(LedgerStatus.Error, failed.Status);
        Assert.Equal(429, failed.HttpStatus);
        Assert.Equal("rate_limit_error", failed.ErrorType);
        Assert.Equal(0m, failed.Cost!.Value.Total);
        var succeeded = records.Single(record => record.Attempt == 2);
        Assert.Equal(LedgerStatus.Ok, succeeded.Status);
        Assert.Equal(0.000184m, succeeded.Cost!.Value.Total); // Haiku 4.5: 19 × $1 / 1e6 + 33 × $5 / 1e6
    }

    [Fact]
    public async Task Persistent_overload_returns_the_529_after_the_retries_with_every_attempt_recorded()
    {
        _harness.Fake.SetDefault(FakeReply.Overloaded());
        using var client = _harness.Client();

        var exception = await Assert.ThrowsAnyAsync<AnthropicApiException>(() => client.Messages.Create(Ask()));

        Assert.Contains("Overloaded", exception.Message, StringComparison.OrdinalIgnoreCase);
        var records = await _harness.ReadLedgerAsync();
        Assert.Equal(3, records.Count);
        Assert.Equal([1, 2, 3], records.Select(record => record.Attempt).Order());
        Assert.All(records, record => Assert.Equal("overloaded_error", record.ErrorType));
        Assert.Equal(3, _harness.Fake.MessageCount);
    }

    [Fact]
    public async Task Invalid_request_from_upstream_is_relayed_not_retried()
    {
        _harness.Fake.Enqueue(FakeReply.Error(400, "invalid_request_error", "max_tokens: 200000 > 64000"));
        using var http = _harness.Http();

        using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json("""{"model":"claude-haiku-4-5","max_tokens":200000,"messages":[{"role":"user","content":"hi"}]}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ProxyValidationTests.ReadErrorAsync(response);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.Contains("200000", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, _harness.Fake.MessageCount);
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal(LedgerStatus.Error, record.Status);
    }

    [Fact]
    public async Task Stream_cut_mid_way_ends_with_an_error_event_and_is_recorded_as_an_error()
    {
        _harness.Fake.Enqueue(FakeReply.Stream().WithCutAfterEvents(4));
        using var client = _harness.Client();

        var exception = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var unused in client.Messages.CreateStreaming(Ask()))
            {
            }
        });

        Assert.Contains("ended unexpectedly", exception.Message, StringComparison.Ordinal);
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.True(record.Streaming);
        Assert.Equal(LedgerStatus.Error, record.Status);
        Assert.Equal("stream_cut", record.ErrorType);
        Assert.Equal(16, record.Usage.InputTokens);
        Assert.Equal(1, _harness.Fake.MessageCount);
    }

    [Fact]
    public async Task Malformed_upstream_json_is_retried_then_answered()
    {
        _harness.Fake.Enqueue(FakeReply.Message().WithMalformedBody());
        using var client = _harness.Client();

        var message = await client.Messages.Create(Ask());

        Assert.Equal(33, message.Usage.OutputTokens);
        var records = await _harness.ReadLedgerAsync();
        Assert.Equal(2, records.Count);
        Assert.Equal("malformed_upstream_response", records.Single(record => record.Attempt == 1).ErrorType);
    }

    [Fact]
    public async Task Answer_cut_short_of_its_content_length_is_recorded_as_lost_and_retried()
    {
        // 200 with the whole body announced, 40 bytes sent, then the connection aborted: the exact-size read must fail,
        // not relay a truncated array, and the retry must answer.
        _harness.Fake.Enqueue(FakeReply.Message().WithCutBodyAfterBytes(40));
        using var client = _harness.Client();

        var message = await client.Messages.Create(Ask());

        Assert.Equal(33, message.Usage.OutputTokens);
        var records = await _harness.ReadLedgerAsync();
        Assert.Equal(2, records.Count);
        var lost = records.Single(record => record.Attempt == 1);
        Assert.Equal("upstream_body_lost", lost.ErrorType);
        Assert.Equal(LedgerStatus.Failed, lost.Status);
        Assert.Equal(LedgerStatus.Ok, records.Single(record => record.Attempt == 2).Status);
    }

    [Fact]
    public async Task Ledger_holds_the_priced_record_after_a_restart()
    {
        using (var client = _harness.Client())
        {
            await client.Messages.Create(Ask());
            await client.Messages.Create(Ask("claude-sonnet-4-5"));
        }

        await _harness.StopProxyAsync();
        await _harness.StartProxyAsync();
        var totals = await _harness.Ledger.GetTotalsAsync(new LedgerQuery(), CancellationToken.None);

        Assert.Equal(2, totals.Count);
        // Haiku 4.5: 0.000184 (see above). Sonnet 4.5 at $3 / $15: 19 * 3 = 0.000057 + 33 * 15 = 0.000495 = 0.000552.
        Assert.Equal(0.000184m + 0.000552m, totals.Cost.Total);
    }

    [Fact]
    public async Task Secrets_never_reach_the_logs()
    {
        _harness.Fake.Enqueue(FakeReply.ServerError());
        using var client = _harness.Client();

        await client.Messages.Create(Ask());

        Assert.NotEmpty(_harness.Logs.Lines);
        Assert.DoesNotContain(_harness.Logs.Lines, line => line.Contains(ProxyHarness.UpstreamKey, StringComparison.Ordinal));
        Assert.DoesNotContain(_harness.Logs.Lines, line => line.Contains(ProxyHarness.ClientKey, StringComparison.Ordinal));
    }
}
