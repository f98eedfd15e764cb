using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ModelMix.IntegrationTests.Proxy;
using OpenAI;
using OpenAI.Chat;

namespace ModelMix.IntegrationTests.OpenAi;

/// <summary>Raw HTTP and official-SDK helpers for driving <c>/v1/chat/completions</c> on a <see cref="ProxyHarness"/>.</summary>
internal static class ChatWire
{
    /// <summary>An official OpenAI .NET client pointed at the proxy (no client-side retries, so every attempt is the proxy's).</summary>
    public static ChatClient Sdk(ProxyHarness harness, string model) => new(
        model,
        new ApiKeyCredential(ProxyHarness.ClientKey),
        new OpenAIClientOptions { Endpoint = new Uri(harness.ProxyUrl, "v1"), RetryPolicy = new ClientRetryPolicy(0) });

    public static async Task<HttpResponseMessage> PostAsync(ProxyHarness harness, string body, string? anthropicVersion = null)
    {
        using var http = harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ProxyHarness.ClientKey);
        if (anthropicVersion is not null)
        {
            request.Headers.Add("anthropic-version", anthropicVersion);
        }

        return await http.SendAsync(request);
    }

    public static async Task<JsonObject> PostJsonAsync(ProxyHarness harness, string body, string? anthropicVersion = null)
    {
        using var response = await PostAsync(harness, body, anthropicVersion);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"HTTP {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>The <c>data:</c> payloads of an SSE response, in order (<c>[DONE]</c> included as is); comment-only blocks (<c>: …</c>) are not events.</summary>
    public static async Task<List<string>> ReadEventsAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Where(block => block.Split('\n').Any(line => line.StartsWith("data: ", StringComparison.Ordinal)))
            .Select(block => block.Split('\n').Single(line => line.StartsWith("data: ", StringComparison.Ordinal))["data: ".Length..])
            .ToList();
    }

    /// <summary>The <c>error</c> object of an OpenAI-shaped error body.</summary>
    public static async Task<JsonObject> ReadErrorAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal(["error"], body.Select(property => property.Key));
        var error = body["error"]!.AsObject();
        Assert.Equal(["message", "type", "param", "code"], error.Select(property => property.Key));
        return error;
    }

    public static string Text(ChatCompletion completion) => string.Concat(completion.Content.Select(part => part.Text));

    public static string? Str(JsonNode? node) => node?.GetValue<string>();
}
