using System.Net;
using System.Text;
using System.Text.Json;
using FakeAnthropic;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelMix.AspNetCore;
using ModelMix.IntegrationTests.Proxy;

namespace ModelMix.IntegrationTests.Samples;

/// <summary>
/// ModelMix.AspNetCore's endpoints mapped under a route prefix of the app's own (<c>app.MapGroup("/llm").MapModelMix()</c>),
/// on Kestrel over loopback with FakeAnthropic upstream: the endpoints answer under the prefix, and an error the proxy
/// writes comes in the API shape of the endpoint that was called (OpenAI's on <c>/llm/v1/chat/completions</c>,
/// Anthropic's on <c>/llm/v1/messages</c>), not in the shape a fixed <c>/v1/chat</c> path test picks.
/// </summary>
public sealed class MapModelMixPrefixTests
{
    [Fact]
    public async Task Under_a_route_prefix_each_endpoint_answers_and_refuses_in_its_own_api_shape()
    {
        using var dir = new TempDirectory();
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.SetDefault(FakeReply.Default.WithUsage(new FakeUsage(1000, 200)));
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ModelMix:Upstream"] = fake.BaseUrl.ToString(),
            ["ModelMix:UpstreamApiKey"] = "sk-prefix-test-key",
            ["ModelMix:Store"] = Path.Combine(dir.Path, "prefix.db"),
        });
        builder.Services.AddModelMixProxy(builder.Configuration);
        await using var app = builder.Build();
        app.MapGet("/hello", () => "hello");
        app.MapGroup("/llm").MapModelMix();
        await app.StartAsync();
        try
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient { BaseAddress = new Uri(address.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(1) };

            // A call through the prefixed /llm/v1/messages reaches FakeAnthropic.
            using var call = new HttpRequestMessage(HttpMethod.Post, "llm/v1/messages")
            {
                Content = new StringContent("""{"model":"claude-haiku-5-5","max_tokens":64,"messages":[{"role":"user","content":"Say hello"}]}""", Encoding.UTF8, "application/json"),
            };
            call.Headers.Add("anthropic-version", "2023-06-01");
            using var answer = await http.SendAsync(call);
            Assert.True(answer.IsSuccessStatusCode, await answer.Content.ReadAsStringAsync());
            Assert.Equal(1, fake.MessageCount);

            // The browser check refuses a text/plain body (what a form or no-cors POST sends) on both endpoints, each in
            // its caller's shape: OpenAI's {"error":{"message","type","param","code"}} under /llm/v1/chat/completions ...
            using var openAi = await http.PostAsync("llm/v1/chat/completions", new StringContent("""{"model":"claude-haiku-5-5","messages":[]}""", Encoding.UTF8, "text/plain"));
            var openAiBody = await openAi.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.BadRequest, openAi.StatusCode);
            using (var json = JsonDocument.Parse(openAiBody))
            {
                Assert.False(json.RootElement.TryGetProperty("type", out _), "an OpenAI error has no top-level type: " + openAiBody);
                Assert.Equal("invalid_request_error", json.RootElement.GetProperty("error").GetProperty("code").GetString());
            }

            Assert.True(openAi.Headers.Contains("x-modelmix-request-id"), openAiBody);

            // ... and Anthropic's {"type":"error","error":{"type","message"},"request_id"} under /llm/v1/messages.
            using var anthropic = await http.PostAsync("llm/v1/messages", new StringContent("""{"model":"claude-haiku-5-5","messages":[]}""", Encoding.UTF8, "text/plain"));
            var anthropicBody = await anthropic.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.BadRequest, anthropic.StatusCode);
            using (var json = JsonDocument.Parse(anthropicBody))
            {
                Assert.Equal("error", json.RootElement.GetProperty("type").GetString());
                Assert.Equal("invalid_request_error", json.RootElement.GetProperty("error").GetProperty("type").GetString());
            }

            // Unprefixed, the paths are not ModelMix's: the app's own empty 404; the app's own endpoint is untouched.
            using var unprefixed = await http.PostAsync("v1/chat/completions", new StringContent("{}", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.NotFound, unprefixed.StatusCode);
            Assert.Equal(string.Empty, await unprefixed.Content.ReadAsStringAsync());
            Assert.Equal("hello", await http.GetStringAsync("hello"));
            Assert.Equal(1, fake.MessageCount);
        }
        finally
        {
            await app.StopAsync();
            SqliteConnection.ClearAllPools();
        }
    }
}
