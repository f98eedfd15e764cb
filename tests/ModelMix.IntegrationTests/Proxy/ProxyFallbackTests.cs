using System.Net;
using FakeAnthropic;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>The proxy's fallback chain: after its retries a failing model hands the request to the next one.</summary>
public sealed class ProxyFallbackTests
{
    private const string Body = """{"model":"claude-opus-4-5","max_tokens":256,"messages":[{"role":"user","content":"Summarise the incident report."}]}""";

    private static void Chain(Dictionary<string, string?> settings)
    {
        settings["ModelMix:Fallback:Chain:0"] = "claude-opus-4-5";
        // Sonnet 4.6, not 4.5: claude-sonnet-4-5 is retired since 2026-11-30 and a chain passes over a retired model (ModelFit).
        settings["ModelMix:Fallback:Chain:1"] = "claude-sonnet-4-6";
        settings["ModelMix:Fallback:Chain:2"] = "claude-haiku-4-5";
    }

    [Fact]
    public async Task Persistent_overload_on_opus_falls_back_to_sonnet_with_every_attempt_recorded()
    {
        await using var harness = await ProxyHarness.StartAsync(Chain);
        for (var i = 0; i < 3; i++)
        {
            harness.Fake.Enqueue(FakeReply.Overloaded());
        }

        using var http = harness.Http();
        using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json(Body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        const string Sonnet = "claude-sonnet-4-6";
        Assert.Equal(Sonnet, response.Headers.GetValues("x-modelmix-routed-model").Single());
        var sent = harness.Fake.MessageRequests.Select(request => request.Json!["model"]!.GetValue<string>()).ToList();
        Assert.Equal(["claude-opus-4-5", "claude-opus-4-5", "claude-opus-4-5", Sonnet], sent);
        var records = (await harness.ReadLedgerAsync()).OrderBy(record => record.Attempt).ToList();
        Assert.Equal([1, 2, 3, 4], records.Select(record => record.Attempt));
        Assert.All(records.Take(3), record => Assert.Equal("overloaded_error", record.ErrorType));
        var last = records[^1];
        Assert.Equal(LedgerStatus.Ok, last.Status);
        Assert.Equal(Sonnet, last.RoutedModel);
        Assert.Equal("claude-opus-4-5", last.EscalatedFrom);
        Assert.Contains("fallback to " + Sonnet + ": HTTP 529 on claude-opus-4-5", last.Reason, StringComparison.Ordinal);
        Assert.Single(records.Select(record => record.RequestId).Distinct());
    }

    [Fact]
    public async Task A_prompt_too_long_moves_to_the_long_context_model_without_retrying()
    {
        // Sonnet 4.6, not 4.5: claude-sonnet-4-5 is retired since 2026-11-30 and is never taken as the long-context model (ModelFit).
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:Fallback:LongContextModel"] = "claude-sonnet-4-6");
        harness.Fake.Enqueue(FakeReply.Error(400, "invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"));

        using var http = harness.Http();
        using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json(Body.Replace("claude-opus-4-5", "claude-haiku-4-5", StringComparison.Ordinal)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var records = (await harness.ReadLedgerAsync()).OrderBy(record => record.Attempt).ToList();
        Assert.Equal(2, records.Count);
        Assert.Equal(400, records[0].HttpStatus);
        Assert.Equal("claude-sonnet-4-6", records[1].RoutedModel);
        Assert.Contains("context window", records[1].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Other_client_errors_do_not_fall_back()
    {
        await using var harness = await ProxyHarness.StartAsync(Chain);
        harness.Fake.Enqueue(FakeReply.Error(400, "invalid_request_error", "messages: roles must alternate"));

        using var http = harness.Http();
        using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json(Body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(1, harness.Fake.MessageCount);
    }

    [Fact]
    public async Task With_a_budget_held_a_dearer_fallback_is_not_taken()
    {
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:Fallback:Chain:0"] = "claude-haiku-4-5";
            settings["ModelMix:Fallback:Chain:1"] = "claude-opus-4-5";
            settings["ModelMix:MaxRetries"] = "0";
        });
        string key;
        await using (var keys = new SqliteKeyStore(harness.DbPath))
        {
            key = (await keys.CreateAsync("team-a", [ModelMix.Budgets.BudgetCap.Parse("5/day")])).Key;
        }

        harness.Fake.Enqueue(FakeReply.Overloaded());
        using var http = harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = ProxyValidationTests.Json(Body.Replace("claude-opus-4-5", "claude-haiku-4-5", StringComparison.Ordinal)) };
        request.Headers.Add("x-api-key", key);
        using var response = await http.SendAsync(request);

        Assert.Equal((HttpStatusCode)529, response.StatusCode);
        Assert.Equal(1, harness.Fake.MessageCount);
    }

    [Fact]
    public async Task An_unknown_model_in_the_chain_fails_the_start_naming_the_key()
    {
        using var dir = new TempDirectory();
        await using var app = ProxyApplication.Create("http://127.0.0.1:0", null, new Dictionary<string, string?>
        {
            ["ModelMix:Db"] = Path.Combine(dir.Path, "l.db"),
            ["ModelMix:Fallback:Chain:0"] = "claude-imaginary-9",
        });

        var exception = await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync());

        Assert.Contains("ModelMix:Fallback:Chain:0", exception.Message, StringComparison.Ordinal);
    }
}
