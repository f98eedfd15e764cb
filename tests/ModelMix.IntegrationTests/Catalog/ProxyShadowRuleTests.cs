using System.Net;
using System.Text;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Catalog;

/// <summary>Shadow mode only asks its candidate what the candidate accepts as it is: a request it would refuse is skipped.</summary>
public sealed class ProxyShadowRuleTests : IAsyncLifetime
{
    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync(settings =>
    {
        settings["ModelMix:Shadow:CandidateModel"] = "claude-opus-5-5";
        settings["ModelMix:Shadow:DefaultRate"] = "1";
    });

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task A_forced_tool_request_is_not_sent_to_a_candidate_that_refuses_forced_tool_use()
    {
        using var http = _harness.Http();
        var body = """
            {"model":"claude-haiku-5-5","max_tokens":64,"tool_choice":{"type":"any"},
             "tools":[{"name":"lookup","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"Look up order 42."}]}
            """;
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var shadow = _harness.Services.GetService(typeof(ProxyShadow)) as ProxyShadow;
        Assert.NotNull(shadow);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (shadow!.Statistics.Skipped == 0)
        {
            await Task.Delay(20, timeout.Token);
        }

        Assert.Equal(1, shadow.Statistics.Skipped);
        Assert.Single(_harness.Fake.MessageRequests); // the live call only: the candidate was never asked
    }
}
