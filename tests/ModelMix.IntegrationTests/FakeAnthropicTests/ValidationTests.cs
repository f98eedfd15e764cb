using System.Net;
using System.Text.Json;
using Anthropic.Exceptions;

namespace ModelMix.IntegrationTests.FakeAnthropicTests;

public sealed class ValidationTests : FakeServerTest
{
    private const string ValidBody = """{"model":"claude-haiku-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}""";

    [Fact]
    public async Task Missing_api_key_is_a_401_authentication_error()
    {
        using var http = NewRawClient();
        using var request = WireRequests.Messages(ValidBody, apiKey: null);

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await AssertErrorShapeAsync(response, "authentication_error");
        Assert.Equal(1, Server.MessageCount);
    }

    [Fact]
    public async Task Api_key_is_optional_when_not_required()
    {
        Server.RequireApiKey = false;
        using var http = NewRawClient();
        using var request = WireRequests.Messages(ValidBody, apiKey: null);

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Wrong_key_surfaces_as_the_SDK_unauthorized_exception()
    {
        Server.ExpectedApiKey = "sk-ant-upstream";
        using var wrong = NewClient("sk-ant-other");
        using var right = NewClient("sk-ant-upstream");

        var ex = await Assert.ThrowsAsync<AnthropicUnauthorizedException>(() => wrong.Messages.Create(Ask()));
        var message = await right.Messages.Create(Ask());

        Assert.Equal("invalid x-api-key", ex.ApiMessage);
        Assert.Equal(33, message.Usage.OutputTokens);
    }

    [Fact]
    public async Task Bearer_token_and_x_api_key_are_both_accepted()
    {
        Server.ExpectedApiKey = "k1";
        using var http = NewRawClient();
        using var viaHeader = WireRequests.Messages(ValidBody, apiKey: "k1");
        using var viaBearer = WireRequests.Messages(ValidBody, apiKey: null);
        viaBearer.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "k1");

        using var first = await http.SendAsync(viaHeader);
        using var second = await http.SendAsync(viaBearer);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("k1", Server.MessageRequests[0].Header("x-api-key"));
    }

    [Fact]
    public async Task Missing_anthropic_version_is_a_400()
    {
        using var http = NewRawClient();
        using var request = WireRequests.Messages(ValidBody, version: null);

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await AssertErrorShapeAsync(response, "invalid_request_error");
        Assert.Contains("anthropic-version", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2023-06-01")]
    [InlineData("2026-10-21")]
    public async Task Both_api_versions_are_accepted(string version)
    {
        using var http = NewRawClient();
        using var request = WireRequests.Messages(ValidBody, version: version);

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("{not json", "parsing the body")]
    [InlineData("[1,2]", "parsing the body")]
    [InlineData("""{"max_tokens":16,"messages":[]}""", "model: Field required")]
    [InlineData("""{"model":"claude-haiku-4-5","messages":[]}""", "max_tokens: Field required")]
    [InlineData("""{"model":"claude-haiku-4-5","max_tokens":16}""", "messages: Field required")]
    [InlineData("""{"model":"claude-haiku-4-5","max_tokens":0,"messages":[]}""", "max_tokens")]
    public async Task Invalid_bodies_are_400_invalid_request_errors(string body, string expectedMessage)
    {
        using var http = NewRawClient();
        using var request = WireRequests.Messages(body);

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var message = await AssertErrorShapeAsync(response, "invalid_request_error");
        Assert.Contains(expectedMessage, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_requests_do_not_consume_scripted_replies()
    {
        Server.Enqueue(FakeAnthropic.FakeReply.Overloaded());
        using var http = NewRawClient();
        using var request = WireRequests.Messages("{}");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(1, Server.PendingReplies);
    }

    [Fact]
    public async Task Sampling_parameters_removed_in_2026_10_21_are_rejected_only_under_that_version()
    {
        const string body = """{"model":"claude-haiku-4-5","max_tokens":16,"temperature":0.2,"messages":[]}""";
        using var http = NewRawClient();
        using var newVersion = WireRequests.Messages(body, version: "2026-10-21");
        using var oldVersion = WireRequests.Messages(body, version: "2023-06-01");

        using var rejected = await http.SendAsync(newVersion);
        using var accepted = await http.SendAsync(oldVersion);

        Assert.Equal(HttpStatusCode.BadRequest, rejected.StatusCode);
        Assert.Contains("temperature", await AssertErrorShapeAsync(rejected, "invalid_request_error"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }

    [Fact]
    public async Task Every_response_carries_a_unique_request_id_and_the_rate_limit_headers()
    {
        using var http = NewRawClient();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var body in new[] { ValidBody, "{}", ValidBody })
        {
            using var request = WireRequests.Messages(body);
            using var response = await http.SendAsync(request);
            var id = response.Headers.GetValues("request-id").Single();
            Assert.Matches("^req_011C[1-9A-HJ-NP-Za-km-z]{20}$", id);
            Assert.Equal(28, id.Length);
            Assert.True(ids.Add(id));
            Assert.Equal("0f3c9a52-6d1e-4b7a-9c35-2e8f41d07ab6", response.Headers.GetValues("anthropic-organization-id").Single());
            foreach (var family in new[] { "requests", "tokens", "input-tokens", "output-tokens" })
            {
                foreach (var part in new[] { "limit", "remaining", "reset" })
                {
                    Assert.True(response.Headers.Contains($"anthropic-ratelimit-{family}-{part}"), $"{family}-{part}");
                }
            }
        }
    }

    [Fact]
    public async Task Unknown_paths_are_404_not_found_errors()
    {
        using var http = NewRawClient();
        using var request = WireRequests.Messages("{}", path: "v1/complete-me");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        await AssertErrorShapeAsync(response, "not_found_error");
    }

    private static async Task<string> AssertErrorShapeAsync(HttpResponseMessage response, string errorType)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = doc.RootElement;
        Assert.Equal(["type", "error", "request_id"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("error", root.GetProperty("type").GetString());
        Assert.Equal(["type", "message"], root.GetProperty("error").EnumerateObject().Select(p => p.Name));
        Assert.Equal(errorType, root.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(response.Headers.GetValues("request-id").Single(), root.GetProperty("request_id").GetString());
        return root.GetProperty("error").GetProperty("message").GetString()!;
    }
}
