using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Keys;

namespace ModelMix.IntegrationTests.Keys;

/// <summary>Once a key exists, every endpoint that reaches the upstream or describes it needs one — in its own API's error shape.</summary>
public sealed class KeysOtherEndpointsTests : IAsyncLifetime
{
    private ProxyHarness _harness = null!;
    private string _key = null!;

    public async Task InitializeAsync()
    {
        _harness = await ProxyHarness.StartAsync();
        await using var keys = new SqliteKeyStore(_harness.DbPath);
        _key = (await keys.CreateAsync("team-a", [])).Key;
    }

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task Chat_completions_without_a_key_gets_an_openai_shaped_401_and_with_it_succeeds()
    {
        const string Body = """{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}]}""";
        using var http = _harness.Http();

        using (var refused = await http.PostAsync("v1/chat/completions", new StringContent(Body, Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            using var document = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            Assert.Contains("virtual API key", document.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _key);
        using var accepted = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.NotNull(record.KeyId);
        Assert.DoesNotContain(_key, record.KeyId, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "v1/models")]
    [InlineData("GET", "v1/models/claude-haiku-4-5")]
    [InlineData("POST", "v1/messages/count_tokens")]
    public async Task Models_and_count_tokens_need_a_key(string method, string path)
    {
        using var http = _harness.Http();
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            request.Content = ProxyValidationTests.Json("""{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}]}""");
        }

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("authentication_error", (await ProxyValidationTests.ReadErrorAsync(response)).Type);
        Assert.Empty(_harness.Fake.Requests);
    }
}
