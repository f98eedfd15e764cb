using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Keys;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Security;

/// <summary>
/// What a web page can make a browser send, as raw requests (the Chromium version is <see cref="BrowserAttackTests"/>):
/// a spoofed <c>Host</c> (DNS rebinding), a cross-site <c>Origin</c>, a body not declared JSON. Each is refused in the
/// endpoint's own error shape with a request id, counted and logged, and never reaches the upstream; what real clients
/// send (SDKs, Claude Code: <c>application/json</c>, maybe with a charset, and no Origin) still works.
/// </summary>
public sealed class BrowserGuardTests
{
    private const string Message = """{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""";
    private const string Chat = """{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""";

    [Theory]
    [InlineData("rebind.example")]
    [InlineData("rebind.example:8080")]
    [InlineData("192.168.1.20:8080")]
    [InlineData("0.0.0.0:8080")]
    [InlineData("localhost.evil.example")]
    public async Task In_open_mode_a_request_for_a_name_that_is_not_loopback_is_refused_on_every_endpoint(string host)
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var http = harness.Http();

        foreach (var (method, path, body) in new (HttpMethod, string, string?)[]
        {
            (HttpMethod.Post, "v1/messages", Message),
            (HttpMethod.Post, "v1/messages/count_tokens", Message),
            (HttpMethod.Get, "v1/models", null),
            (HttpMethod.Get, "dashboard", null),
            (HttpMethod.Get, "metrics", null),
            (HttpMethod.Post, "v1/modelmix/batch", """{"requests":[{"custom_id":"a","params":""" + Message + "}]}"),
        })
        {
            using var request = Request(method, path, body);
            request.Headers.Host = host;
            using var response = await http.SendAsync(request);
            await AssertAnthropicRefusalAsync(response, HttpStatusCode.Forbidden, "permission_error", "DNS rebinding");
        }

        using var chat = Request(HttpMethod.Post, "v1/chat/completions", Chat);
        chat.Headers.Host = host;
        using var chatResponse = await http.SendAsync(chat);
        await AssertOpenAiRefusalAsync(chatResponse, HttpStatusCode.Forbidden, "permission_error");

        using var health = Request(HttpMethod.Get, "healthz", null); // a probe's Host is an address; /healthz tells nothing
        health.Headers.Host = host;
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(health)).StatusCode);
        Assert.Empty(harness.Fake.Requests);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("LOCALHOST:1234")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.2:8080")]
    [InlineData("[::1]:8080")]
    [InlineData("app.localhost:3000")]
    public async Task In_open_mode_a_request_for_a_loopback_name_is_served(string host)
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var http = harness.Http();
        using var request = Request(HttpMethod.Post, "v1/messages", Message);
        request.Headers.Host = host;

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, harness.Fake.MessageCount);
    }

    [Fact]
    public async Task AllowedHosts_adds_names_in_open_mode_and_turns_the_Host_check_on_once_keys_exist()
    {
        await using (var open = await ProxyHarness.StartAsync(settings => settings["ModelMix:AllowedHosts:0"] = "modelmix.internal"))
        {
            using var http = open.Http();
            Assert.Equal(HttpStatusCode.OK, (await SendWithHostAsync(http, "modelmix.internal:8080", key: null)).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await SendWithHostAsync(http, "other.internal", key: null)).StatusCode);
            Assert.Equal(1, open.Fake.MessageCount);
        }

        await using var keyed = await ProxyHarness.StartAsync(settings => settings["ModelMix:AllowedHosts:0"] = "modelmix.internal");
        string key;
        await using (var keys = new SqliteKeyStore(keyed.DbPath))
        {
            key = (await keys.CreateAsync("team-a")).Key;
        }

        using var client = keyed.Http();
        Assert.Equal(HttpStatusCode.OK, (await SendWithHostAsync(client, "modelmix.internal", key)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendWithHostAsync(client, "localhost", key)).StatusCode);
        using var foreign = await SendWithHostAsync(client, "other.internal", key);
        await AssertAnthropicRefusalAsync(foreign, HttpStatusCode.Forbidden, "permission_error", "ModelMix:AllowedHosts");
        Assert.Equal(2, keyed.Fake.MessageCount);
    }

    [Fact]
    public async Task Once_keys_exist_any_Host_is_served_to_a_valid_key_and_the_rest_get_401()
    {
        await using var harness = await ProxyHarness.StartAsync();
        string key;
        await using (var keys = new SqliteKeyStore(harness.DbPath))
        {
            key = (await keys.CreateAsync("team-a")).Key;
        }

        using var http = harness.Http();
        // A deployment's own names (behind a reverse proxy that keeps Host) are unknown to ModelMix; a rebinding page has no key.
        Assert.Equal(HttpStatusCode.OK, (await SendWithHostAsync(http, "api.example.com", key)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendWithHostAsync(http, "api.example.com", key: null)).StatusCode);
        Assert.Equal(1, harness.Fake.MessageCount);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5173")]
    [InlineData("http://localhost:3000")]
    [InlineData("https://evil.example")]
    [InlineData("null")]
    public async Task A_request_from_another_origin_is_refused_in_both_shapes_and_counted(string origin)
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var refusals = new RefusalCounter(harness);
        using var http = harness.Http();

        foreach (var path in new[] { "v1/messages", "v1/messages/count_tokens", "v1/modelmix/batch" })
        {
            using var request = Request(HttpMethod.Post, path, path.EndsWith("batch", StringComparison.Ordinal) ? """{"requests":[{"custom_id":"a","params":""" + Message + "}]}" : Message);
            request.Headers.TryAddWithoutValidation("Origin", origin);
            using var response = await http.SendAsync(request);
            await AssertAnthropicRefusalAsync(response, HttpStatusCode.Forbidden, "permission_error", "ModelMix:AllowedOrigins");
        }

        using var models = Request(HttpMethod.Get, "v1/models", null);
        models.Headers.TryAddWithoutValidation("Origin", origin);
        await AssertAnthropicRefusalAsync(await http.SendAsync(models), HttpStatusCode.Forbidden, "permission_error", "ModelMix:AllowedOrigins");

        using var chat = Request(HttpMethod.Post, "v1/chat/completions", Chat);
        chat.Headers.TryAddWithoutValidation("Origin", origin);
        await AssertOpenAiRefusalAsync(await http.SendAsync(chat), HttpStatusCode.Forbidden, "permission_error");

        Assert.Empty(harness.Fake.Requests);
        Assert.Equal(5, refusals.Of("403 permission_error"));
        Assert.Contains("modelmix_refusals_total{otel_scope_name=\"ModelMix\",status=\"403\",type=\"permission_error\"}", await http.GetStringAsync("metrics"), StringComparison.Ordinal);
        Assert.Single(harness.Logs.Lines, line => line.Contains("with 403 permission_error", StringComparison.Ordinal)); // rate-limited: one line for five
    }

    [Fact]
    public async Task The_proxys_own_origin_and_an_allowed_origin_are_served_and_allowed_origins_get_CORS_answers()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:AllowedOrigins:0"] = "http://localhost:5173/");
        using var http = harness.Http();

        using var same = Request(HttpMethod.Post, "v1/messages", Message);
        same.Headers.TryAddWithoutValidation("Origin", "http://" + harness.ProxyUrl.Authority);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(same)).StatusCode);

        using var allowed = Request(HttpMethod.Post, "v1/messages", Message);
        allowed.Headers.TryAddWithoutValidation("Origin", "http://localhost:5173");
        using var allowedResponse = await http.SendAsync(allowed);
        Assert.Equal(HttpStatusCode.OK, allowedResponse.StatusCode);
        Assert.Equal("http://localhost:5173", allowedResponse.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("x-modelmix-request-id", allowedResponse.Headers.GetValues("Access-Control-Expose-Headers").Single(), StringComparison.OrdinalIgnoreCase);

        // The browser's preflight for an SDK call (x-api-key, anthropic-version, a JSON body).
        using var preflight = new HttpRequestMessage(HttpMethod.Options, "v1/messages");
        preflight.Headers.TryAddWithoutValidation("Origin", "http://localhost:5173");
        preflight.Headers.TryAddWithoutValidation("Access-Control-Request-Method", "POST");
        preflight.Headers.TryAddWithoutValidation("Access-Control-Request-Headers", "content-type,x-api-key,anthropic-version,anthropic-dangerous-direct-browser-access");
        using var preflightResponse = await http.SendAsync(preflight);
        Assert.Equal(HttpStatusCode.NoContent, preflightResponse.StatusCode);
        Assert.Equal("http://localhost:5173", preflightResponse.Headers.GetValues("Access-Control-Allow-Origin").Single());

        using var otherPreflight = new HttpRequestMessage(HttpMethod.Options, "v1/messages");
        otherPreflight.Headers.TryAddWithoutValidation("Origin", "http://localhost:5174");
        otherPreflight.Headers.TryAddWithoutValidation("Access-Control-Request-Method", "POST");
        using var otherResponse = await http.SendAsync(otherPreflight);
        Assert.False(otherResponse.Headers.Contains("Access-Control-Allow-Origin"));

        Assert.Equal(2, harness.Fake.MessageCount);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("text/plain; charset=utf-8")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("application/jsonp")]
    [InlineData(null)]
    public async Task A_JSON_endpoint_refuses_a_body_not_declared_JSON(string? contentType)
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var http = harness.Http();

        foreach (var path in new[] { "v1/messages", "v1/messages/count_tokens", "v1/modelmix/batch" })
        {
            using var response = await http.SendAsync(Raw(path, path.EndsWith("batch", StringComparison.Ordinal) ? """{"requests":[{"custom_id":"a","params":""" + Message + "}]}" : Message, contentType));
            await AssertAnthropicRefusalAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "content-type");
        }

        using var chat = await http.SendAsync(Raw("v1/chat/completions", Chat, contentType));
        await AssertOpenAiRefusalAsync(chat, HttpStatusCode.BadRequest, "invalid_request_error");
        Assert.Empty(harness.Fake.Requests);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("Application/JSON;charset=UTF-8")]
    public async Task What_SDKs_send_is_served(string contentType)
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var http = harness.Http();

        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(Raw("v1/messages", Message, contentType))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(Raw("v1/chat/completions", Chat, contentType))).StatusCode);
        Assert.Equal(2, harness.Fake.MessageCount);
        // A cancel takes no body: no content type is fine there (the job does not exist: 404, not 400).
        using var cancel = await http.PostAsync("v1/modelmix/batch/mmxb_none/cancel", content: null);
        Assert.Equal(HttpStatusCode.NotFound, cancel.StatusCode);
    }

    [Fact]
    public async Task The_dashboard_may_not_be_framed()
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var http = harness.Http();

        using var response = await http.GetAsync("dashboard");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
    }

    [Theory]
    [InlineData("http://localhost:3000", "http://localhost:3000")]
    [InlineData("HTTP://LocalHost:3000/", "http://localhost:3000")]
    [InlineData("https://app.example:443", "https://app.example")]
    [InlineData("http://[::1]:5173", "http://[::1]:5173")]
    [InlineData("chrome-extension://abcdefghijklmnop", "chrome-extension://abcdefghijklmnop")]
    [InlineData("http://localhost:3000/app", null)]
    [InlineData("http://localhost:3000/?x=1", null)]
    [InlineData("http://user@localhost:3000", null)]
    [InlineData("localhost:3000", null)]
    [InlineData("null", null)]
    [InlineData("*", null)]
    public void Allowed_origins_are_read_as_browsers_write_origins(string value, string? expected) =>
        Assert.Equal(expected, BrowserGuard.NormalizeOrigin(value));

    [Theory]
    [InlineData("AllowedOrigins", "http://localhost:3000/app")]
    [InlineData("AllowedOrigins", "*")]
    [InlineData("AllowedHosts", "http://modelmix.internal")]
    [InlineData("AllowedHosts", "modelmix.internal:8080")]
    [InlineData("AllowedHosts", "*.example.com")]
    public async Task A_bad_entry_fails_the_start_naming_the_key(string key, string value)
    {
        var exception = await Assert.ThrowsAsync<OptionsValidationException>(() => ProxyHarness.StartAsync(settings => settings[$"ModelMix:{key}:0"] = value));

        Assert.Contains($"ModelMix:{key}:0", exception.Message, StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> SendWithHostAsync(HttpClient http, string host, string? key)
    {
        using var request = Request(HttpMethod.Post, "v1/messages", Message);
        request.Headers.Host = host;
        if (key is not null)
        {
            request.Headers.Add("x-api-key", key);
        }

        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, string? body)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        request.Headers.Add("anthropic-version", "2023-06-01");
        return request;
    }

    private static HttpRequestMessage Raw(string path, string body, string? contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.Add("anthropic-version", "2023-06-01");
        return request;
    }

    /// <summary>Anthropic's error shape, the request id in the body and in <c>x-modelmix-request-id</c>.</summary>
    internal static async Task AssertAnthropicRefusalAsync(HttpResponseMessage response, HttpStatusCode status, string type, string says)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"{response.RequestMessage?.RequestUri}: {(int)response.StatusCode} {text}");
        using var json = JsonDocument.Parse(text);
        Assert.Equal("error", json.RootElement.GetProperty("type").GetString());
        Assert.Equal(type, json.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains(says, json.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        var id = json.RootElement.GetProperty("request_id").GetString();
        Assert.StartsWith("mmx_", id, StringComparison.Ordinal);
        Assert.Equal(id, response.Headers.GetValues("x-modelmix-request-id").Single());
    }

    /// <summary>OpenAI's error shape; the request id in <c>x-modelmix-request-id</c> (OpenAI's body has none).</summary>
    private static async Task AssertOpenAiRefusalAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"{(int)response.StatusCode} {text}");
        using var json = JsonDocument.Parse(text);
        var error = json.RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.StartsWith("mmx_", response.Headers.GetValues("x-modelmix-request-id").Single(), StringComparison.Ordinal);
    }
}
