using System.Text;

namespace ModelMix.IntegrationTests.FakeAnthropicTests;

/// <summary>Hand-built HTTP requests for checks the SDK would not let through.</summary>
internal static class WireRequests
{
    public static HttpRequestMessage Messages(
        string body, string? apiKey = "test-key", string? version = "2023-06-01", string path = "v1/messages")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        if (apiKey is not null)
        {
            request.Headers.Add("x-api-key", apiKey);
        }

        if (version is not null)
        {
            request.Headers.Add("anthropic-version", version);
        }

        return request;
    }
}
