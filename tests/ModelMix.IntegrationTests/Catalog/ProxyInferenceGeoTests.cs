using System.Net;
using System.Text;
using System.Text.Json;
using FakeAnthropic;
using ModelMix.IntegrationTests.Proxy;

namespace ModelMix.IntegrationTests.Catalog;

/// <summary>
/// <c>inference_geo</c> (data residency) on a model released before Claude Opus 4.6, which the API answers with a 400
/// (https://platform.claude.com/docs/en/build-with-claude/data-residency): FakeAnthropic refuses it
/// (<see cref="ModelRequestRules"/>), a routed request is moved off such a model by the shared rule check
/// (<c>ModelRuleCheck</c>, catalog <c>inferenceGeo: false</c>), and a request addressed to it by id passes through as
/// sent, the upstream's 400 reaching the client in the Anthropic error format.
/// </summary>
public sealed class ProxyInferenceGeoTests : IAsyncLifetime
{
    private const string User = """{"role":"user","content":"Summarise our data-retention policy."}""";

    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync(settings =>
    {
        foreach (var (alias, model) in new[] { ("to-haiku-4-5", "claude-haiku-4-5"), ("to-opus-4-1", "claude-opus-4-1") })
        {
            settings[$"ModelMix:Aliases:{alias}:Default"] = model;
            settings[$"ModelMix:Aliases:{alias}:Rules:0:Name"] = "everything";
            settings[$"ModelMix:Aliases:{alias}:Rules:0:Target"] = model;
        }
    });

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Theory]
    [InlineData("to-haiku-4-5", "claude-haiku-4-5-20251001")]
    [InlineData("to-opus-4-1", "claude-opus-4-1-20250805")]
    public async Task A_routed_request_with_inference_geo_is_moved_off_a_model_that_refuses_it(string alias, string refusing)
    {
        using var http = _harness.Http();

        var (status, text, _) = await PostAsync(http, Body(alias, geo: "us"));

        Assert.True(status == HttpStatusCode.OK, text);
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.NotEqual(refusing, record.RoutedModel);
        Assert.Contains($"{refusing} skipped (rejects inference_geo (data residency))", record.Reason, StringComparison.Ordinal);
        Assert.Equal(1, _harness.Fake.MessageCount); // no 400 on the way
    }

    [Fact]
    public async Task Without_inference_geo_the_same_alias_stays_on_the_older_model()
    {
        using var http = _harness.Http();

        var (status, text, _) = await PostAsync(http, Body("to-haiku-4-5", geo: null));

        Assert.True(status == HttpStatusCode.OK, text);
        Assert.Equal("claude-haiku-4-5-20251001", Assert.Single(await _harness.ReadLedgerAsync()).RoutedModel);
    }

    [Theory]
    [InlineData("claude-haiku-4-5", "us")]
    [InlineData("claude-opus-4-1-20250805", "global")]
    public async Task Addressed_by_id_it_passes_through_and_the_upstreams_400_reaches_the_client(string model, string geo)
    {
        using var http = _harness.Http();

        var (status, text, requestId) = await PostAsync(http, Body(model, geo));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        using var doc = JsonDocument.Parse(text);
        Assert.Equal("error", doc.RootElement.GetProperty("type").GetString());
        var error = doc.RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(ModelRequestRules.Messages.InferenceGeoNotSupported, error.GetProperty("message").GetString());
        Assert.False(string.IsNullOrEmpty(requestId));
        var sent = Assert.Single(_harness.Fake.MessageRequests).Json!;
        Assert.Equal(model, sent["model"]!.GetValue<string>()); // never adapted
        Assert.Equal(geo, sent["inference_geo"]!.GetValue<string>());
    }

    private static string Body(string model, string? geo) =>
        $"{{\"model\":\"{model}\",\"max_tokens\":512,{(geo is null ? "" : $"\"inference_geo\":\"{geo}\",")}\"messages\":[{User}]}}";

    private static async Task<(HttpStatusCode Status, string Text, string? RequestId)> PostAsync(HttpClient http, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await http.SendAsync(request);
        var id = response.Headers.TryGetValues("request-id", out var ids) ? ids.FirstOrDefault()
            : response.Headers.TryGetValues("x-modelmix-request-id", out var own) ? own.FirstOrDefault() : null;
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), id);
    }
}
