using System.Text.Json.Nodes;

namespace FakeAnthropic;

/// <summary>One HTTP request as the fake server received it, for assertions in tests.</summary>
/// <param name="Method">HTTP method (<c>POST</c>, <c>GET</c>).</param>
/// <param name="Path">Request path, e.g. <c>/v1/messages</c>.</param>
/// <param name="Query">Query string including the leading <c>?</c>, or empty.</param>
/// <param name="Headers">Request headers, case-insensitive; repeated headers joined with a comma.</param>
/// <param name="Body">The raw request body (empty when there is none).</param>
/// <param name="Json">The body parsed as JSON, or null when it is empty or not valid JSON.</param>
public sealed record RecordedRequest(
    string Method,
    string Path,
    string Query,
    IReadOnlyDictionary<string, string> Headers,
    string Body,
    JsonNode? Json)
{
    /// <summary>The value of a request header, or null when it was not sent.</summary>
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}
