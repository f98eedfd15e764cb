using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FakeAnthropic;
using ModelMix.Budgets;
using ModelMix.Keys;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// Issue 20 §5, the hold side: a request whose body is small but references a document or an image the upstream loads
/// itself (a URL, a Files API file) holds that content's documented worst case (docs/keys-and-budgets.md), on both
/// doors, so a small cap refuses it before anything is sent instead of being passed by the fetched input.
/// </summary>
public sealed class ReferencedContentBudgetTests : IAsyncLifetime
{
    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private static string Body(string content) =>
        $$"""{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":{{content}}}]}""";

    [Fact]
    public async Task A_pdf_by_url_holds_the_context_window_and_a_small_cap_refuses_it_before_it_is_sent()
    {
        var created = await CreateKeyAsync("0.05/day");
        using var http = _harness.Http();

        // Text only: ~30 tokens of input plus 64 of output at $1 / $5 per MTok, far below $0.05: served.
        _harness.Fake.Enqueue(FakeReply.Message());
        using (var plain = await PostAsync(http, Body("\"Summarize the report.\""), created.Key))
        {
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        }

        // The same request with the report as a PDF URL: the upstream would load up to 600 pages, capped at Haiku 4.5's
        // 200,000-token window: 200,000 * $1/MTok = $0.20 of input, over the cap; refused, nothing sent.
        using var withPdf = await PostAsync(http, Body("""[{"type":"document","source":{"type":"url","url":"https://example.test/report.pdf"}},{"type":"text","text":"Summarize the report."}]"""), created.Key);

        Assert.Equal(HttpStatusCode.TooManyRequests, withPdf.StatusCode);
        using var error = JsonDocument.Parse(await withPdf.Content.ReadAsStringAsync());
        Assert.Equal("rate_limit_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Single(_harness.Fake.MessageRequests);
    }

    [Fact]
    public async Task An_image_url_on_the_openai_door_holds_its_worst_case_too()
    {
        var created = await CreateKeyAsync("0.004/day");

        // Text only: well under $0.004 (tens of tokens in, at most 64 out = $0.00032 of output): served.
        _harness.Fake.Enqueue(FakeReply.Message());
        using (var plain = await PostChatAsync("""[{"type":"text","text":"What is in the picture?"}]""", created.Key))
        {
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        }

        // An image by URL (translated to {"type":"image","source":{"type":"url",…}}) adds 5,000 tokens = $0.005 of
        // input at $1/MTok: over the $0.004 cap; refused in the OpenAI error shape, nothing sent.
        using var withImage = await PostChatAsync("""[{"type":"image_url","image_url":{"url":"https://example.test/cat.png"}},{"type":"text","text":"What is in the picture?"}]""", created.Key);

        Assert.Equal(HttpStatusCode.TooManyRequests, withImage.StatusCode);
        Assert.Contains("Budget exceeded", await withImage.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Single(_harness.Fake.MessageRequests);
    }

    private async Task<CreatedApiKey> CreateKeyAsync(params string[] budgets)
    {
        await using var keys = new SqliteKeyStore(_harness.DbPath);
        return await keys.CreateAsync("team-a", budgets.Select(BudgetCap.Parse).ToList());
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, string body, string apiKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("x-api-key", apiKey);
        return await http.SendAsync(request);
    }

    private async Task<HttpResponseMessage> PostChatAsync(string content, string apiKey)
    {
        using var http = _harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":{{content}}}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return await http.SendAsync(request);
    }
}
