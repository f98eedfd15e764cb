using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Keys;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// Issue 20 §13: every error the proxy writes carries a request id (the 413 had <c>request_id: null</c>), and a client
/// refused over and over (429 over budget) cannot flood the log: one line per kind per 10 s, as for every refusal.
/// </summary>
public sealed class RequestIdAndLogFloodTests
{
    [Fact]
    public async Task A_413_carries_the_request_id_on_every_endpoint()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:MaxRequestBodyBytes"] = "2048");
        var big = """{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":" """ + new string('x', 4096) + "\"}]}";

        // Each on a connection of its own: the proxy answers 413 without reading the rest of the body, and may close it.
        foreach (var path in new[] { "v1/messages", "v1/messages/count_tokens", "v1/modelmix/batch" })
        {
            // Declared too large, then too large while read (chunked: no Content-Length to refuse up front).
            using (var http = harness.Http())
            {
                using var declared = await http.PostAsync(path, ProxyValidationTests.Json(big));
                await Security.BrowserGuardTests.AssertAnthropicRefusalAsync(declared, HttpStatusCode.RequestEntityTooLarge, "request_too_large", "maximum allowed number of bytes");
            }

            using (var http = harness.Http())
            {
                using var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
                request.Headers.TransferEncodingChunked = true;
                using var chunked = await http.SendAsync(request);
                await Security.BrowserGuardTests.AssertAnthropicRefusalAsync(chunked, HttpStatusCode.RequestEntityTooLarge, "request_too_large", "maximum allowed number of bytes");
            }
        }

        using var chatHttp = harness.Http();
        using var chat = await chatHttp.PostAsync("v1/chat/completions", ProxyValidationTests.Json(big));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, chat.StatusCode);
        Assert.StartsWith("mmx_", chat.Headers.GetValues("x-modelmix-request-id").Single(), StringComparison.Ordinal);
        Assert.Empty(harness.Fake.Requests);
    }

    [Fact]
    public async Task Errors_written_before_any_handler_carry_a_request_id_too()
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var http = harness.Http();

        using var notFound = await http.GetAsync("v1/nothing-here");
        await Security.BrowserGuardTests.AssertAnthropicRefusalAsync(notFound, HttpStatusCode.NotFound, "not_found_error", "not an endpoint");
        using var wrongMethod = await http.GetAsync("v1/messages");
        await Security.BrowserGuardTests.AssertAnthropicRefusalAsync(wrongMethod, HttpStatusCode.MethodNotAllowed, "api_error", "not allowed");
    }

    [Fact]
    public async Task A_client_refused_over_and_over_for_its_budget_writes_one_log_line_not_one_per_request()
    {
        await using var harness = await ProxyHarness.StartAsync();
        string key;
        await using (var keys = new SqliteKeyStore(harness.DbPath))
        {
            // $0.000001 a day: less than any request's worst case, so every request is refused before it is sent.
            key = (await keys.CreateAsync("tiny", [BudgetCap.Parse("0.000001/day")])).Key;
        }

        using var http = harness.Http();
        for (var i = 0; i < 50; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
            {
                Content = ProxyValidationTests.Json("""{"model":"claude-haiku-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}"""),
            };
            request.Headers.Add("x-api-key", key);
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        }

        Assert.Equal(0, harness.Fake.MessageCount);
        // The start-up and ledger-migration lines name the upstream's port and the stores' temp paths, any of which can
        // contain "429": they are not about requests.
        var budgetLines = harness.Logs.Lines.Where(line => !line.StartsWith("Information ModelMix.Server.ProxyStartup:", StringComparison.Ordinal)
            && !line.StartsWith("Information ModelMix.Ledger.", StringComparison.Ordinal)
            && (line.Contains("429", StringComparison.Ordinal) || line.Contains("budget", StringComparison.OrdinalIgnoreCase))).ToList();
        var only = Assert.Single(budgetLines);
        Assert.Contains("Refused POST /v1/messages with 429 rate_limit_error", only, StringComparison.Ordinal);
        Assert.Contains("key 'tiny'", only, StringComparison.Ordinal); // the line still says whose budget
        SqliteConnection.ClearAllPools();
    }
}
