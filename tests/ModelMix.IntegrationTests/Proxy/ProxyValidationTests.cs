using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>Bad requests get Anthropic-format 4xx errors from the proxy itself and never reach the upstream.</summary>
public sealed class ProxyValidationTests : IAsyncLifetime
{
    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:MaxRequestBodyBytes"] = "65536");

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Theory]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("[1,2,3]", "must be a JSON object")]
    [InlineData("{\"max_tokens\":10,\"messages\":[]}", "model: Field required")]
    [InlineData("{\"model\":\"claude-haiku-4-5\",\"messages\":[]}", "max_tokens: Field required")]
    [InlineData("{\"model\":\"claude-haiku-4-5\",\"max_tokens\":\"ten\",\"messages\":[]}", "max_tokens: Input should be a valid integer")]
    [InlineData("{\"model\":\"claude-haiku-4-5\",\"max_tokens\":0,\"messages\":[]}", "greater than or equal to 1")]
    [InlineData("{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10}", "messages: Field required")]
    [InlineData("{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":{}}", "messages: Input should be a valid list")]
    [InlineData("{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[],\"stream\":\"yes\"}", "stream: Input should be a valid boolean")]
    [InlineData("{\"model\":42,\"max_tokens\":10,\"messages\":[]}", "model: Input should be a non-empty string")]
    [InlineData("", "body is empty")]
    // A top-level field given twice is refused, never read last-wins (issue 20 §10): the hold, the stream handling and
    // the record would follow one value while the upstream may run the other.
    [InlineData("{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[],\"max_tokens\":100000}", "max_tokens: the field appears more than once")]
    [InlineData("{\"model\":\"claude-haiku-4-5\",\"stream\":false,\"max_tokens\":10,\"messages\":[],\"stream\":true}", "stream: the field appears more than once")]
    [InlineData("{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[],\"tools\":[],\"tools\":[{\"type\":\"web_search_20260209\",\"name\":\"web_search\"}]}", "tools: the field appears more than once")]
    [InlineData("{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[],\"max\\u005ftokens\":100000}", "max_tokens: the field appears more than once")]
    public async Task Malformed_request_gets_an_invalid_request_error_and_is_not_forwarded(string body, string expected)
    {
        using var http = _harness.Http();
        using var response = await http.PostAsync("v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ReadErrorAsync(response);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("mmx_", error.RequestId, StringComparison.Ordinal);
        Assert.Equal(0, _harness.Fake.MessageCount);
    }

    [Fact]
    public async Task Unknown_model_is_refused_before_dispatch_naming_the_model_and_the_price_book()
    {
        // The refusal is ModelMix:UnpricedModels = Refuse; by default a model the catalog cannot price is forwarded and
        // recorded unpriced (UnpricedModelTests).
        await _harness.DisposeAsync();
        _harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:MaxRequestBodyBytes"] = "65536";
            settings["ModelMix:UnpricedModels"] = "Refuse";
        });
        using var http = _harness.Http();
        using var response = await http.PostAsync("v1/messages", Json("""{"model":"claude-imaginary-9","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ReadErrorAsync(response);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.Contains("claude-imaginary-9", error.Message, StringComparison.Ordinal);
        Assert.Contains("price", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, _harness.Fake.MessageCount);
    }

    [Fact]
    public async Task Oversize_body_gets_413_request_too_large()
    {
        var big = "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"" + new string('x', 70_000) + "\"}]}";
        using var http = _harness.Http();
        using var response = await http.PostAsync("v1/messages", Json(big));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request_too_large", (await ReadErrorAsync(response)).Type);
        Assert.Equal(0, _harness.Fake.MessageCount);
    }

    [Fact]
    public async Task Oversize_chunked_body_without_content_length_gets_413()
    {
        var big = Encoding.UTF8.GetBytes("{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"" + new string('y', 70_000) + "\"}]}");
        using var content = new StreamContent(new MemoryStream(big));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var http = _harness.Http();
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request_too_large", (await ReadErrorAsync(response)).Type);
    }

    [Fact]
    public async Task Unknown_route_gets_not_found_error_in_anthropic_format()
    {
        using var http = _harness.Http();
        using var response = await http.GetAsync("v1/nothing-here");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("not_found_error", (await ReadErrorAsync(response)).Type);
    }

    [Fact]
    public async Task Wrong_method_on_the_openai_endpoint_gets_an_openai_shaped_error()
    {
        using var http = _harness.Http();
        using var response = await http.GetAsync("v1/chat/completions");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("not allowed", document.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_method_on_the_messages_endpoint_gets_an_anthropic_shaped_error_and_the_allowed_method()
    {
        using var http = _harness.Http();
        using var response = await http.GetAsync("v1/messages");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("POST", Assert.Single(response.Content.Headers.Allow));
        var (_, message, _) = await ReadErrorAsync(response);
        Assert.Equal("Method GET is not allowed on /v1/messages.", message);
    }

    [Fact]
    public async Task Healthz_answers_ok()
    {
        using var http = _harness.Http();
        using var response = await http.GetAsync("healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("ok", document.RootElement.GetProperty("status").GetString());
    }

    internal static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    internal static async Task<(string Type, string Message, string? RequestId)> ReadErrorAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = document.RootElement;
        Assert.Equal("error", root.GetProperty("type").GetString());
        var error = root.GetProperty("error");
        var requestId = root.TryGetProperty("request_id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;
        return (error.GetProperty("type").GetString()!, error.GetProperty("message").GetString()!, requestId);
    }
}
