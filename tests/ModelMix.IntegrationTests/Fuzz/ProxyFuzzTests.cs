using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using CsCheck;
using ModelMix.IntegrationTests.Proxy;
using Xunit.Abstractions;

namespace ModelMix.IntegrationTests.Fuzz;

/// <summary>
/// Hostile bodies over real HTTP against a real proxy (one <see cref="ProxyHarness"/>, FakeAnthropic at its default
/// success): every answer is below 500, every 4xx is a JSON error in the endpoint's shape, and the proxy stays
/// healthy. <see cref="HostileInput.HttpIterations"/> bodies per endpoint (300 in CI).
/// </summary>
public sealed class ProxyFuzzTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int MaxBodyBytes = 256 * 1024;

    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() =>
        _harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:MaxRequestBodyBytes"] = MaxBodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public Task Messages_endpoint_answers_hostile_bodies_below_500_with_anthropic_errors() =>
        FuzzAsync("v1/messages", HostileInput.Damaged(HostileInput.AnthropicJson), AssertAnthropicError);

    [Fact]
    public Task Chat_completions_endpoint_answers_hostile_bodies_below_500_with_openai_errors() =>
        FuzzAsync("v1/chat/completions", HostileInput.Damaged(HostileInput.OpenAiJson), AssertOpenAiError);

    [Fact]
    public Task Responses_endpoint_answers_hostile_bodies_below_500_with_openai_errors() =>
        FuzzAsync("v1/responses", HostileInput.Damaged(HostileInput.ResponsesJson), AssertOpenAiError);

    [Theory]
    [InlineData("v1/messages")]
    [InlineData("v1/chat/completions")]
    [InlineData("v1/responses")]
    public async Task Oversize_deeply_nested_and_unicode_edge_bodies_are_refused_cleanly(string path)
    {
        var assertError = path == "v1/messages" ? (Action<JsonElement>)AssertAnthropicError : AssertOpenAiError;
        string[] bodies =
        [
            "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"" + new string('x', MaxBodyBytes + 10) + "\"}]}",
            "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":" + new string('[', 100_000) + new string(']', 100_000) + "}",
            "{\"model\":\"\\ud800\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
            "{\"\\udfff\":1,\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
            "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"system\":\"\\ud83d\",\"messages\":[{\"role\":\"user\",\"content\":\"\\udc00\"}]}",
        ];

        // The Messages body is forwarded as it came, so a second top-level model (which the rewriter would not
        // replace) is refused there; the OpenAI translation builds a new body and simply takes the last one.
        string[] duplicateModels =
        [
            "{\"model\":7,\"model\":\"auto\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
            "{\"model\":\"auto\",\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        ];
        if (path == "v1/messages")
        {
            bodies = [.. bodies, .. duplicateModels];
        }
        else if (path == "v1/responses")
        {
            bodies = [.. bodies.Select(body => body.Replace("\"messages\":", "\"input\":", StringComparison.Ordinal))];
        }

        using var http = _harness.Http();
        foreach (var body in bodies)
        {
            using var response = await PostAsync(http, path, System.Text.Encoding.UTF8.GetBytes(body));
            Assert.True((int)response.StatusCode is >= 400 and < 500, $"{(int)response.StatusCode} for {HostileInput.Print(System.Text.Encoding.UTF8.GetBytes(body))}");
            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            assertError(document.RootElement);
        }

        await AssertHealthyAsync();
    }

    private async Task FuzzAsync(string path, Gen<byte[]> bodies, Action<JsonElement> assertError)
    {
        var cases = new ConcurrentBag<byte[]>();
        bodies.Sample(cases.Add, seed: HostileInput.Seed, iter: HostileInput.HttpIterations, threads: 1);

        var before = GC.GetTotalMemory(forceFullCollection: true);
        var failures = new ConcurrentQueue<string>();
        var upstreamFailures = 0;
        var statuses = new ConcurrentDictionary<int, int>();
        using var http = _harness.Http();
        await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (body, token) =>
        {
            try
            {
                using var response = await PostAsync(http, path, body);
                var status = (int)response.StatusCode;
                statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                var text = await response.Content.ReadAsStringAsync(token);
                if (status >= 500 && FakeUpstreamChokesOn(body))
                {
                    // Forwarded as it came (the proxy accepted it) to FakeAnthropic, whose JsonNode reading throws
                    // on duplicate keys and such: the upstream's own 5xx, relayed, not the proxy's.
                    Interlocked.Increment(ref upstreamFailures);
                }
                else if (status >= 500)
                {
                    failures.Enqueue($"{status} {Cut(text)} for {HostileInput.Print(body)}");
                }
                else if (status >= 400)
                {
                    Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
                    using var document = JsonDocument.Parse(text);
                    assertError(document.RootElement);
                }
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                failures.Enqueue($"{exception.GetType().Name}: {Cut(exception.Message)} for {HostileInput.Print(body)}");
            }
        });

        output.WriteLine($"{cases.Count} bodies to {path}: " + string.Join(", ", statuses.OrderBy(p => p.Key).Select(p => $"{p.Key}×{p.Value}")) + $"; fake upstream failures {upstreamFailures}");
        Assert.True(failures.IsEmpty, $"{failures.Count} of {cases.Count} bodies failed:\n" + string.Join("\n\n", failures.Take(5)));
        Assert.True(upstreamFailures <= cases.Count / 10, $"{upstreamFailures} of {cases.Count} bodies made the fake upstream fail");
        await AssertHealthyAsync();

        // Memory stays bounded: what the run leaves behind after a full collection is small.
        var grown = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.True(grown < 256L * 1024 * 1024, $"the heap grew by {grown / (1024 * 1024)} MB over the run");
    }

    /// <summary>
    /// Whether FakeAnthropic (which reads bodies with <see cref="System.Text.Json.Nodes.JsonNode"/>) throws on the body,
    /// e.g. on a duplicate key (the real API takes the last one): its unhandled exception is a 500 from the upstream.
    /// </summary>
    private static bool FakeUpstreamChokesOn(byte[] body)
    {
        try
        {
            Walk(System.Text.Json.Nodes.JsonNode.Parse(body));
            return false;
        }
        catch (JsonException)
        {
            return false;
        }
        catch (Exception exception) when (exception is ArgumentException or InvalidOperationException)
        {
            return true;
        }

        static void Walk(System.Text.Json.Nodes.JsonNode? node)
        {
            switch (node)
            {
                case System.Text.Json.Nodes.JsonObject obj:
                    foreach (var (_, child) in obj)
                    {
                        Walk(child);
                    }

                    break;
                case System.Text.Json.Nodes.JsonArray array:
                    foreach (var child in array)
                    {
                        Walk(child);
                    }

                    break;
                case System.Text.Json.Nodes.JsonValue value when value.GetValueKind() == JsonValueKind.String:
                    _ = value.GetValue<string>();
                    break;
            }
        }
    }

    private async Task AssertHealthyAsync()
    {
        using var http = _harness.Http();
        using var response = await http.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("ok", document.RootElement.GetProperty("status").GetString());
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, string path, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return await http.PostAsync(path, content);
    }

    /// <summary>Anthropic: <c>{"type":"error","error":{"type":…,"message":…}}</c>.</summary>
    private static void AssertAnthropicError(JsonElement root)
    {
        Assert.Equal("error", root.GetProperty("type").GetString());
        var error = root.GetProperty("error");
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
    }

    /// <summary>OpenAI: <c>{"error":{"message":…,"type":…}}</c>.</summary>
    private static void AssertOpenAiError(JsonElement root)
    {
        var error = root.GetProperty("error");
        Assert.Equal(JsonValueKind.Object, error.ValueKind);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
    }

    private static string Cut(string text) => text.Length > 300 ? text[..300] + "…" : text;
}
