using System.Net;
using System.Text;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Shadow;

namespace ModelMix.IntegrationTests.Catalog;

/// <summary>Shadow mode compares two efforts of one model: a candidate such as <c>claude-opus-5-5@low</c>.</summary>
public sealed class ProxyShadowEffortTests : IAsyncLifetime
{
    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync(settings =>
    {
        settings["ModelMix:Shadow:CandidateModel"] = "claude-opus-5-5@low";
        settings["ModelMix:Shadow:DefaultRate"] = "1";
    });

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task The_same_model_at_low_effort_is_shadowed_and_paired()
    {
        using var http = _harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
        {
            Content = new StringContent("""{"model":"claude-opus-5-5","max_tokens":64,"messages":[{"role":"user","content":"Explain the design."}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var pair = await WaitForPairAsync();
        Assert.Equal(("claude-opus-5-5", "claude-opus-5-5@low"), (pair.LiveModel, pair.ShadowModel));
        var shadowCall = _harness.Fake.MessageRequests[1].Json!;
        Assert.Equal("claude-opus-5-5", shadowCall["model"]!.GetValue<string>());
        Assert.Equal("low", shadowCall["output_config"]!["effort"]!.GetValue<string>());
        var records = await _harness.ReadLedgerAsync();
        Assert.Equal(("medium", true), (records.Single(r => r.Policy != ShadowRunner.Policy).Effort, records.Single(r => r.Policy != ShadowRunner.Policy).EffortIsDefault));
        Assert.Equal(("low", false), (records.Single(r => r.Policy == ShadowRunner.Policy).Effort, records.Single(r => r.Policy == ShadowRunner.Policy).EffortIsDefault));
    }

    private async Task<ShadowPair> WaitForPairAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            await using var store = new SqliteLedgerStore(_harness.DbPath);
            await store.MigrateAsync();
            await foreach (var pair in store.ReadShadowPairsAsync())
            {
                return pair;
            }

            await Task.Delay(50, timeout.Token);
        }
    }
}
