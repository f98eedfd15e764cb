using System.Net;
using System.Text.Json;
using Anthropic.Models.Messages;
using FakeAnthropic;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>The proxy's other endpoints: models, count_tokens and Prometheus metrics.</summary>
public sealed class ProxyEndpointsTests : IAsyncLifetime
{
    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task Models_lists_the_aliases_and_the_priced_models_and_the_strict_sdk_parses_it()
    {
        using var client = _harness.Client();

        var page = await client.Models.List();

        var ids = page.Items.Select(model => model.ID).ToList();
        Assert.Contains("auto", ids);
        Assert.Contains("auto-cheap", ids);
        Assert.Contains("claude-haiku-4-5-20251001", ids);
        Assert.Contains("claude-sonnet-4-5-20250929", ids);
        Assert.Equal("auto", ids[0]);
    }

    [Fact]
    public async Task One_model_by_alias_or_id_and_404_for_unknown()
    {
        using var http = _harness.Http();

        using (var response = await http.GetAsync("v1/models/claude-haiku-4-5"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal("claude-haiku-4-5-20251001", document.RootElement.GetProperty("id").GetString());
        }

        using var missing = await http.GetAsync("v1/models/claude-nothing-1");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("not_found_error", (await ProxyValidationTests.ReadErrorAsync(missing)).Type);
    }

    [Fact]
    public async Task Count_tokens_is_passed_through_with_the_upstream_key()
    {
        using var client = _harness.Client();

        var count = await client.Messages.CountTokens(new MessageCountTokensParams
        {
            Model = "claude-sonnet-4-5",
            Messages = [new UserMessageParam("How many tokens is this?")],
        });

        Assert.Equal(5591, count.InputTokens);
        var forwarded = Assert.Single(_harness.Fake.Requests, request => request.Path == "/v1/messages/count_tokens");
        Assert.Equal(ProxyHarness.UpstreamKey, forwarded.Header("x-api-key"));
        Assert.Empty(await _harness.ReadLedgerAsync());
    }

    [Fact]
    public async Task Count_tokens_for_an_alias_counts_on_the_routed_model()
    {
        using var http = _harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages/count_tokens")
        {
            Content = ProxyValidationTests.Json("""{"model":"auto","messages":[{"role":"user","content":"Classify this ticket: refund request"}]}"""),
        };
        request.Headers.Add("anthropic-version", "2023-06-01");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var forwarded = Assert.Single(_harness.Fake.Requests, recorded => recorded.Path == "/v1/messages/count_tokens");
        Assert.StartsWith("claude-haiku-5-5", forwarded.Json!["model"]!.GetValue<string>(), StringComparison.Ordinal); // the default catalog's haiku tier
    }

    [Theory]
    [InlineData("""{"model":"auto","model":"auto","messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"\ud800"}]}""")]
    [InlineData("""{"model":"\ud800","messages":[]}""")]
    public async Task Count_tokens_answers_400_not_500_for_bodies_it_cannot_read(string body)
    {
        using var http = _harness.Http();
        using var response = await http.PostAsync("v1/messages/count_tokens", ProxyValidationTests.Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_request_error", (await ProxyValidationTests.ReadErrorAsync(response)).Type);
        Assert.DoesNotContain(_harness.Fake.Requests, request => request.Path == "/v1/messages/count_tokens");
    }

    [Fact]
    public async Task Metrics_exposes_cost_route_and_token_counters_in_prometheus_text()
    {
        using (var client = _harness.Client())
        {
            await client.Messages.Create(new MessageCreateParams { Model = "claude-haiku-4-5", MaxTokens = 64, Messages = [new UserMessageParam("hi")] });
        }

        _harness.Fake.Enqueue(FakeReply.Overloaded());
        using (var client = _harness.Client())
        {
            await client.Messages.Create(new MessageCreateParams { Model = "claude-haiku-4-5", MaxTokens = 64, Messages = [new UserMessageParam("hi")] });
        }

        using var http = _harness.Http();
        var text = await http.GetStringAsync("metrics");

        Assert.Contains("modelmix_cost_usd_total", text, StringComparison.Ordinal);
        Assert.Contains("modelmix_route_total{", text, StringComparison.Ordinal);
        Assert.Contains("reason=\"passthrough\"", text, StringComparison.Ordinal);
        Assert.Contains("gen_ai_client_token_usage", text, StringComparison.Ordinal);
        Assert.Contains("modelmix_attempts_total{", text, StringComparison.Ordinal);
        Assert.Contains("status=\"error\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain(ProxyHarness.UpstreamKey, text, StringComparison.Ordinal);
    }
}
