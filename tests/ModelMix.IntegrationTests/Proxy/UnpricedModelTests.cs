using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Keys;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// A real model id the catalog has no price for is forwarded, recorded with its tokens and no cost (never $0),
/// counted, and warned about once per model; only a budget (or <c>ModelMix:UnpricedModels = Refuse</c>) refuses it.
/// </summary>
public sealed class UnpricedModelTests : IAsyncLifetime
{
    private const string Unpriced = "claude-future-9-9";

    private ProxyHarness _harness = null!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task Unpriced_model_is_forwarded_and_recorded_with_tokens_and_no_cost()
    {
        _harness = await ProxyHarness.StartAsync();
        using var http = _harness.Http();

        using var first = await PostAsync(http, Body(Unpriced));
        using var second = await PostAsync(http, Body(Unpriced, stream: true));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(2, _harness.Fake.MessageCount);
        var records = await _harness.ReadLedgerAsync();
        Assert.Equal(2, records.Count);
        Assert.All(records, record =>
        {
            Assert.Equal(LedgerStatus.Unpriced, record.Status);
            Assert.Null(record.Cost);
            Assert.Equal(Unpriced, record.RoutedModel);
            Assert.Equal("passthrough", record.Policy);
            Assert.True(record.Usage.InputTokens > 0);
            Assert.True(record.Usage.OutputTokens > 0);
        });

        // Warned once for the model, not once per call.
        Assert.Single(_harness.Logs.Lines, line => line.Contains($"{Unpriced} has no price in the model catalog", StringComparison.Ordinal));
        var metrics = await http.GetStringAsync("metrics");
        Assert.Contains("status=\"unpriced\"", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_with_a_budget_refuses_an_unpriced_model_and_says_how_to_price_it()
    {
        _harness = await ProxyHarness.StartAsync();
        await using (var keys = new SqliteKeyStore(_harness.DbPath))
        {
            var created = await keys.CreateAsync("team-a", [BudgetCap.Parse("5/day")]);
            using var http = _harness.Http();

            using var response = await PostAsync(http, Body(Unpriced), created.Key);

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var message = error.RootElement.GetProperty("error").GetProperty("message").GetString()!;
            Assert.Contains("cannot be held against a budget", message, StringComparison.Ordinal);
            Assert.Contains("ModelMix:Prices", message, StringComparison.Ordinal);
        }

        Assert.Equal(0, _harness.Fake.MessageCount);
    }

    [Fact]
    public async Task UnpricedModels_Refuse_refuses_before_anything_is_sent()
    {
        _harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:UnpricedModels"] = "Refuse");
        using var http = _harness.Http();

        using var response = await PostAsync(http, Body(Unpriced));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("ModelMix:UnpricedModels", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, _harness.Fake.MessageCount);
    }

    private static string Body(string model, bool stream = false) =>
        $$"""{"model":"{{model}}","max_tokens":64,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}""";

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, string body, string? apiKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        if (apiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }
}
