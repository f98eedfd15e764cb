using System.Net;
using FakeAnthropic;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// The proxy's fallback step where the <c>proxy-retry</c> mutation run of issue 27 found real gaps: a cooling-down model
/// while a budget is held (only a model no dearer replaces it), a dearer fallback without a budget held, the tried set
/// kept across several fallbacks (no model asked twice), a client gone while its model fails (no fallback paid for
/// nobody), and the start-up warning the proxy's old <c>ModelMix:MaxRetries</c> key gives.
/// </summary>
public sealed class ProxyFallbackGapTests
{
    private const string Haiku = "claude-haiku-4-5"; // as the client asks for it
    private const string OpusKey = "claude-opus-4-5-20251101"; // the chain sends an entry by its canonical id
    private const string Sonnet = "claude-sonnet-4-6"; // its own canonical id; 1M context window (prices.json)
    private const string HaikuBody = """{"model":"claude-haiku-4-5","max_tokens":256,"messages":[{"role":"user","content":"Summarise the incident report."}]}""";

    // The fake's default answer uses 19 input and 33 output tokens (FakeAnthropic's default message fixture).
    // Haiku 4.5 at $1 / $5 per million: 19 × 1 / 1e6 + 33 × 5 / 1e6 = 0.000019 + 0.000165 = $0.000184.
    private const decimal HaikuAnswerCost = 0.000184m;

    // Opus 4.5 at $5 / $25 per million: 19 × 5 / 1e6 + 33 × 25 / 1e6 = 0.000095 + 0.000825 = $0.00092.
    private const decimal OpusAnswerCost = 0.00092m;

    /// <summary>Haiku first, then Opus (dearer per token), no retries on one model: each failure moves on at once.</summary>
    private static void HaikuThenOpus(Dictionary<string, string?> settings)
    {
        settings["ModelMix:Fallback:Chain:0"] = Haiku;
        settings["ModelMix:Fallback:Chain:1"] = "claude-opus-4-5";
        settings["ModelMix:Fallback:MaxRetriesPerModel"] = "0";
    }

    [Fact]
    public async Task A_model_cooling_down_while_a_budget_is_held_is_kept_rather_than_replaced_by_a_dearer_one()
    {
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            HaikuThenOpus(settings);
            settings["ModelMix:CooldownWithoutRetryAfter"] = "01:00:00"; // cooling for the whole test, however slow the machine
        });
        string budgeted, unbudgeted;
        await using (var keys = new SqliteKeyStore(harness.DbPath))
        {
            budgeted = (await keys.CreateAsync("team-a", [ModelMix.Budgets.BudgetCap.Parse("5/day")])).Key;
            unbudgeted = (await keys.CreateAsync("team-b")).Key; // no cap: nothing is held for its requests
        }

        using var http = harness.Http();

        // Haiku is overloaded: with the budget held the dearer Opus is not taken (the 529 is relayed), and Haiku cools down.
        harness.Fake.Enqueue(FakeReply.Overloaded());
        using (var first = await PostAsync(http, budgeted))
        {
            Assert.Equal((HttpStatusCode)529, first.StatusCode);
        }

        // Haiku is cooling down; the budget holds Haiku's worst case, so the cooldown may start the request only on a
        // model no dearer: there is none, and the request stays on Haiku.
        using (var second = await PostAsync(http, budgeted))
        {
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
            Assert.Equal(Haiku, second.Headers.GetValues("x-modelmix-routed-model").Single());
        }

        // Without a budget held, nothing bounds the price: the cooling Haiku is replaced by Opus at once.
        using (var third = await PostAsync(http, unbudgeted))
        {
            Assert.Equal(HttpStatusCode.OK, third.StatusCode);
            Assert.Equal(OpusKey, third.Headers.GetValues("x-modelmix-routed-model").Single());
        }

        var sent = harness.Fake.MessageRequests.Select(request => request.Json!["model"]!.GetValue<string>()).ToList();
        Assert.Equal([Haiku, Haiku, OpusKey], sent);
        var records = await harness.ReadLedgerAsync();
        Assert.Equal(3, records.Count);
        var answered = records.Where(record => record.Status == LedgerStatus.Ok).OrderBy(record => record.RoutedModel, StringComparer.Ordinal).ToList();
        Assert.Equal([Haiku, OpusKey], answered.Select(record => record.RoutedModel));
        Assert.Equal((1, (string?)null, HaikuAnswerCost), (answered[0].Attempt, answered[0].EscalatedFrom, answered[0].Cost!.Value.Total));
        Assert.Equal((1, Haiku, OpusAnswerCost), (answered[1].Attempt, answered[1].EscalatedFrom, answered[1].Cost!.Value.Total));
        Assert.Equal($"fallback to {OpusKey}: {Haiku} is cooling down after a 429/529", answered[1].Reason);
    }

    [Fact]
    public async Task Without_a_budget_held_a_failed_model_falls_back_to_a_dearer_one()
    {
        // The counterpart of ProxyFallbackTests.With_a_budget_held_a_dearer_fallback_is_not_taken: no key, no hold.
        await using var harness = await ProxyHarness.StartAsync(HaikuThenOpus);
        harness.Fake.Enqueue(FakeReply.Overloaded());
        using var http = harness.Http();

        using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json(HaikuBody));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(OpusKey, response.Headers.GetValues("x-modelmix-routed-model").Single());
        var sent = harness.Fake.MessageRequests.Select(request => request.Json!["model"]!.GetValue<string>()).ToList();
        Assert.Equal([Haiku, OpusKey], sent);
        var records = (await harness.ReadLedgerAsync()).OrderBy(record => record.Attempt).ToList();
        Assert.Equal([1, 2], records.Select(record => record.Attempt));
        Assert.Equal(("overloaded_error", 0m), (records[0].ErrorType, records[0].Cost!.Value.Total)); // a 529 is not billed
        Assert.Equal((LedgerStatus.Ok, Haiku, OpusAnswerCost), (records[1].Status, records[1].EscalatedFrom, records[1].Cost!.Value.Total));
        Assert.Equal($"fallback to {OpusKey}: HTTP 529 on {Haiku}", records[1].Reason);
    }

    [Fact]
    public async Task After_the_long_context_model_fails_the_chain_does_not_ask_the_model_whose_window_was_too_small_again()
    {
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            HaikuThenOpus(settings);
            settings["ModelMix:Fallback:LongContextModel"] = Sonnet; // not in the chain
        });
        // Haiku: the prompt is too long → Sonnet (the long-context model): overloaded → the chain after Sonnet, which is
        // not in it, starts at its first entry: Haiku was tried, so Opus, whose window is too small as well.
        harness.Fake.Enqueue(FakeReply.Error(400, "invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"));
        harness.Fake.Enqueue(FakeReply.Overloaded());
        harness.Fake.Enqueue(FakeReply.Error(400, "invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"));
        using var http = harness.Http();

        using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json(HaikuBody));

        // Every model was tried once (the long-context one included): Opus's 400 is relayed as it is.
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(OpusKey, response.Headers.GetValues("x-modelmix-routed-model").Single());
        var sent = harness.Fake.MessageRequests.Select(request => request.Json!["model"]!.GetValue<string>()).ToList();
        Assert.Equal([Haiku, Sonnet, OpusKey], sent); // never Haiku twice, never Sonnet twice
        var records = (await harness.ReadLedgerAsync()).OrderBy(record => record.Attempt).ToList();
        Assert.Equal([1, 2, 3], records.Select(record => record.Attempt));
        Assert.Equal([400, 529, 400], records.Select(record => record.HttpStatus));
        Assert.All(records, record => Assert.Equal(0m, record.Cost!.Value.Total)); // error answers are not billed
        Assert.Equal($"fallback to {Sonnet}: the prompt is too long for its context window on {Haiku}", records[1].Reason);
        Assert.Equal($"fallback to {OpusKey}: HTTP 529 on {Sonnet}", records[2].Reason);
        Assert.Single(records.Select(record => record.RequestId).Distinct());
    }

    [Fact]
    public async Task A_client_gone_while_its_model_fails_pays_for_no_fallback()
    {
        await using var harness = await ProxyHarness.StartAsync(HaikuThenOpus);
        var release = new TaskCompletionSource();
        harness.Fake.Enqueue(FakeReply.Overloaded().WithHold(release.Task)); // Haiku's 529 comes only after the client left
        var hangups = harness.Services.GetRequiredService<ClientHangups>();

        using (var http = harness.Http())
        using (var leave = new CancellationTokenSource())
        {
            var call = http.PostAsync("v1/messages", ProxyValidationTests.Json(HaikuBody), leave.Token);
            await WaitUntilAsync(() => harness.Fake.MessageCount == 1, "the request never reached the upstream");
            await leave.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
            await WaitUntilAsync(() => hangups.Orphans == 1, "the proxy never saw its client leave");
        }

        release.SetResult();
        await WaitUntilAsync(() => hangups.Orphans == 0, "the request of the client that left never ended"); // a fallback call, if one were (wrongly) made, was awaited before that

        Assert.Equal(1, harness.Fake.MessageCount); // Haiku only: Opus is not paid for nobody
        var record = Assert.Single(await harness.ReadLedgerAsync());
        Assert.Equal((Haiku, 529, true, 0m), (record.RoutedModel, record.HttpStatus, record.ClientDisconnected, record.Cost!.Value.Total));
    }

    [Theory]
    [InlineData(null)] // the old key alone
    [InlineData("1")] // the new key set too: the old one is still warned about
    public async Task The_proxys_old_MaxRetries_key_is_warned_about_at_start_naming_the_key_to_use(string? newKey)
    {
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:MaxRetries"] = "0";
            if (newKey is not null)
            {
                settings["ModelMix:Fallback:MaxRetriesPerModel"] = newKey;
            }
        });

        Assert.Equal(newKey is null ? 0 : 1, harness.Services.GetRequiredService<ProxyFallback>().MaxRetriesPerModel);
        var warning = Assert.Single(harness.Logs.Lines, line => line.Contains("is an old name", StringComparison.Ordinal));
        Assert.Equal(
            "Warning ModelMix.Server.ProxyFallback: ModelMix:Fallback: the key ModelMix:MaxRetries is an old name, accepted for this release only: use ModelMix:Fallback:MaxRetriesPerModel.",
            warning.TrimEnd());
    }

    [Fact]
    public async Task Without_the_old_MaxRetries_key_nothing_is_warned_about()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:Fallback:MaxRetriesPerModel"] = "1");

        Assert.Equal(1, harness.Services.GetRequiredService<ProxyFallback>().MaxRetriesPerModel);
        Assert.DoesNotContain(harness.Logs.Lines, line => line.Contains("is an old name", StringComparison.Ordinal));
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string failure)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), failure);
            await Task.Delay(10);
        }
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = ProxyValidationTests.Json(HaikuBody) };
        request.Headers.Add("x-api-key", key);
        return await http.SendAsync(request);
    }
}
