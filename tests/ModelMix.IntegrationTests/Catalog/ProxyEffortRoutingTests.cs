using System.Net;
using System.Text;
using ModelMix.IntegrationTests.Proxy;

namespace ModelMix.IntegrationTests.Catalog;

/// <summary>
/// Effort as a routing lever at the proxy: a rule's effort overrides the caller's and is sent as
/// <c>output_config.effort</c>; without one the caller's stands; the ledger records the effort sent, or the model's
/// default when none was sent.
/// </summary>
public sealed class ProxyEffortRoutingTests : IAsyncLifetime
{
    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync(settings =>
    {
        settings["ModelMix:Aliases:cheap-opus:Default"] = "opus";
        settings["ModelMix:Aliases:cheap-opus:Rules:0:Name"] = "everything-at-low-effort";
        settings["ModelMix:Aliases:cheap-opus:Rules:0:Target"] = "opus@low";
        settings["ModelMix:Aliases:plain-opus:Default"] = "opus";
        settings["ModelMix:Aliases:plain-opus:Rules:0:Name"] = "everything";
        settings["ModelMix:Aliases:plain-opus:Rules:0:Target"] = "opus";
    });

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task A_decisions_effort_overrides_the_callers_and_is_recorded()
    {
        using var http = _harness.Http();

        Assert.Equal(HttpStatusCode.OK, await PostAsync(http, """{"model":"cheap-opus","max_tokens":64,"output_config":{"effort":"max"},"messages":[{"role":"user","content":"hi"}]}"""));

        var sent = Assert.Single(_harness.Fake.MessageRequests).Json!;
        Assert.Equal("claude-opus-5-5", sent["model"]!.GetValue<string>());
        Assert.Equal("low", sent["output_config"]!["effort"]!.GetValue<string>());
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal("low", record.Effort);
        Assert.False(record.EffortIsDefault);
    }

    [Fact]
    public async Task Without_a_decided_effort_the_callers_stands_and_without_either_the_models_default_is_recorded()
    {
        using var http = _harness.Http();

        Assert.Equal(HttpStatusCode.OK, await PostAsync(http, """{"model":"plain-opus","max_tokens":64,"output_config":{"effort":"high"},"messages":[{"role":"user","content":"hi"}]}"""));
        Assert.Equal(HttpStatusCode.OK, await PostAsync(http, """{"model":"claude-opus-5-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}"""));

        var sent = _harness.Fake.MessageRequests;
        Assert.Equal("claude-opus-5-5", sent[0].Json!["model"]!.GetValue<string>());
        Assert.Equal("high", sent[0].Json!["output_config"]!["effort"]!.GetValue<string>());
        Assert.Null(sent[1].Json!["output_config"]); // a real model id is passed through as sent
        var records = await _harness.ReadLedgerAsync();
        Assert.Equal(("high", false), (records[0].Effort, records[0].EffortIsDefault));
        Assert.Equal(("medium", true), (records[1].Effort, records[1].EffortIsDefault)); // Opus 5.5 defaults to medium
    }

    private static async Task<HttpStatusCode> PostAsync(HttpClient http, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }
}
