using System.Net;
using System.Net.Sockets;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>When the upstream cannot be reached the client gets a clean Anthropic-format error and every attempt is recorded.</summary>
public sealed class UpstreamDownTests
{
    [Fact]
    public async Task Connection_refused_gives_502_api_error_after_recorded_retries()
    {
        var closedPort = FreePort();
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:Upstream"] = $"http://127.0.0.1:{closedPort}/");
        using var http = harness.Http();

        using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json("""{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"""));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var error = await ProxyValidationTests.ReadErrorAsync(response);
        Assert.Equal("api_error", error.Type);
        Assert.Contains("could not reach the upstream", error.Message, StringComparison.Ordinal);
        var records = await harness.ReadLedgerAsync();
        Assert.Equal(3, records.Count);
        Assert.All(records, record =>
        {
            Assert.Equal(LedgerStatus.Failed, record.Status);
            Assert.Equal("upstream_unreachable", record.ErrorType);
            Assert.Equal(0m, record.Cost!.Value.Total);
        });
    }

    [Fact]
    public async Task Slow_upstream_past_the_timeout_gives_504()
    {
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:UpstreamTimeout"] = "00:00:00.300";
            settings["ModelMix:MaxRetries"] = "0";
        });
        harness.Fake.Enqueue(FakeAnthropic.FakeReply.Message().WithDelay(TimeSpan.FromSeconds(3)));
        using var http = harness.Http();

        using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json("""{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"""));

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("api_error", (await ProxyValidationTests.ReadErrorAsync(response)).Type);
        var record = Assert.Single(await harness.ReadLedgerAsync());
        Assert.Equal("upstream_timeout", record.ErrorType);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
