using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using FakeAnthropic;
using ModelMix.IntegrationTests.Cascade;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.ProxyCascade;

/// <summary>
/// <c>model: "auto-cascade"</c> at the proxy, over real HTTP to FakeAnthropic: the client's body goes to the cheapest
/// tier with only <c>model</c> rewritten, the verifier (the official SDK) rates the answer, a low rating re-sends the same
/// body to the next tier, and every answer and rating is a ledger record of the request.
/// </summary>
public sealed class ProxyCascadeTests : IDisposable
{
    private static readonly string Haiku = PriceBook.Default.ResolveTier("haiku");
    private static readonly string Sonnet = PriceBook.Default.ResolveTier("sonnet");

    private readonly TextReplies _replies = new();

    public void Dispose() => _replies.Dispose();

    private static string Ask(string prompt, string extra = "", string model = "auto-cascade") =>
        $$"""{"model":"{{model}}","max_tokens":512,"messages":[{"role":"user","content":{{JsonValue.Create(prompt).ToJsonString()}}}]{{extra}}}""";

    private static async Task<HttpResponseMessage> PostAsync(ProxyHarness harness, string body, string? task = null, string? session = null)
    {
        using var http = harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        if (task is not null)
        {
            request.Headers.Add("x-modelmix-task", task);
        }

        if (session is not null)
        {
            request.Headers.Add("x-modelmix-session", session);
        }

        return await http.SendAsync(request);
    }

    private FakeReply Rating(double confidence) =>
        _replies.Message($$"""{"confidence":{{confidence.ToString(System.Globalization.CultureInfo.InvariantCulture)}},"reason":"scripted"}""");

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.Single() : "(absent)";

    private static string WithModel(string body, string model) =>
        body.Replace("\"model\":\"auto-cascade\"", $"\"model\":\"{model}\"", StringComparison.Ordinal);

    private static async Task<List<LedgerRecord>> LedgerAsync(ProxyHarness harness) =>
        [.. (await harness.ReadLedgerAsync()).OrderBy(record => record.Attempt)];

    [Fact]
    public async Task Cascade_keeps_a_confident_haiku_answer_after_one_verification()
    {
        await using var harness = await ProxyHarness.StartAsync();
        harness.Fake.Enqueue(_replies.Message("The capital of France is Paris."));
        harness.Fake.Enqueue(Rating(0.92));
        var body = Ask("What is the capital of France?", """, "metadata":{"user_id":"u-7"}, "future_field":[1, 2.50]""");

        using var response = await PostAsync(harness, body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("The capital of France is Paris.", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["content"]![0]!["text"]!.GetValue<string>());
        Assert.Equal(Haiku, Header(response, "x-modelmix-routed-model"));
        Assert.Equal("haiku", Header(response, "x-modelmix-cascade-path"));
        Assert.Equal("0.92", Header(response, "x-modelmix-confidence"));

        var upstream = harness.Fake.MessageRequests;
        Assert.Equal(2, upstream.Count);
        Assert.Equal(WithModel(body, Haiku), upstream[0].Body);
        Assert.Equal(Haiku, upstream[1].Json!["model"]!.GetValue<string>());
        Assert.Contains("What is the capital of France?", upstream[1].Body, StringComparison.Ordinal);
        Assert.Contains("The capital of France is Paris.", upstream[1].Body, StringComparison.Ordinal);

        var records = await LedgerAsync(harness);
        Assert.Equal(2, records.Count);
        Assert.Single(records.Select(record => record.RequestId).Distinct());
        Assert.Equal(Header(response, "x-modelmix-request-id"), records[0].RequestId);
        Assert.Equal([1, 2], records.Select(record => record.Attempt));
        Assert.All(records, record => Assert.Equal("cascade", record.Policy));
        Assert.All(records, record => Assert.Equal("auto-cascade", record.RequestedModel));
        Assert.All(records, record => Assert.True(record.Cost!.Value.Total > 0m));
        Assert.StartsWith("cascade: first answer on haiku", records[0].Reason, StringComparison.Ordinal);
        Assert.StartsWith("verifier on haiku", records[1].Reason, StringComparison.Ordinal);
        Assert.Null(records[0].EscalatedFrom);
    }

    [Fact]
    public async Task Cascade_escalates_a_low_rating_to_sonnet_with_the_same_body_and_relays_sonnets_bytes()
    {
        await using var harness = await ProxyHarness.StartAsync();
        harness.Fake.Enqueue(_replies.Message("Maybe Lyon?"));
        harness.Fake.Enqueue(Rating(0.42));
        harness.Fake.Enqueue(_replies.Message("Paris."));
        harness.Fake.Enqueue(Rating(0.85)); // sonnet could still escalate to opus, so it is rated too
        var body = Ask("What is the capital of France?", """,  "thinking_like_field" : {"nested": ["é\u00e9"]}""");

        using var response = await PostAsync(harness, body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("Paris.", answer["content"]![0]!["text"]!.GetValue<string>());
        Assert.Equal(Sonnet, answer["model"]!.GetValue<string>());
        Assert.Equal(Sonnet, Header(response, "x-modelmix-routed-model"));
        Assert.Equal("haiku->sonnet", Header(response, "x-modelmix-cascade-path"));
        Assert.Equal("0.85", Header(response, "x-modelmix-confidence"));

        var upstream = harness.Fake.MessageRequests;
        Assert.Equal(4, upstream.Count);
        Assert.Equal(WithModel(body, Haiku), upstream[0].Body);
        Assert.Equal(WithModel(body, Sonnet), upstream[2].Body);
        Assert.Contains("Paris.", upstream[3].Body, StringComparison.Ordinal);

        var records = await LedgerAsync(harness);
        Assert.Equal([1, 2, 3, 4], records.Select(record => record.Attempt));
        Assert.Single(records.Select(record => record.RequestId).Distinct());
        Assert.Equal([Haiku, Haiku, Sonnet, Haiku], records.Select(record => record.RoutedModel));
        Assert.Equal("verifier on haiku (" + Haiku + "): rating the answer of sonnet", records[3].Reason);
        Assert.Equal("confidence 0.42 < 0.70 on haiku → sonnet", records[2].Reason);
        Assert.Equal(Haiku, records[2].EscalatedFrom);
        Assert.All(records, record => Assert.Equal(LedgerStatus.Ok, record.Status));
    }

    [Fact]
    public async Task Cascade_stops_at_max_escalations_and_uses_the_task_threshold()
    {
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:Cascade:MaxEscalations"] = "1";
            settings["ModelMix:Cascade:TaskThresholds:legal"] = "0.95";
        });
        harness.Fake.Enqueue(_replies.Message("The clause is standard."));
        harness.Fake.Enqueue(Rating(0.9));
        harness.Fake.Enqueue(_replies.Message("The clause is unusual: it waives liability."));

        using var response = await PostAsync(harness, Ask("Is this indemnity clause standard?"), task: "legal");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("haiku->sonnet", Header(response, "x-modelmix-cascade-path"));
        Assert.Equal(3, harness.Fake.MessageRequests.Count);
        var records = await LedgerAsync(harness);
        Assert.Equal(3, records.Count);
        Assert.Equal("confidence 0.90 < 0.95 on haiku → sonnet", records[2].Reason);
        Assert.DoesNotContain(records, record => record.RoutedModel == PriceBook.Default.ResolveTier("opus"));
        Assert.All(records, record => Assert.Equal("legal", record.TaskLabel));
    }

    [Fact]
    public async Task Cascade_counts_a_failed_verifier_call_as_missing_confidence_and_escalates()
    {
        await using var harness = await ProxyHarness.StartAsync();
        harness.Fake.Enqueue(_replies.Message("Maybe Lyon?"));
        harness.Fake.Enqueue(FakeReply.Overloaded());
        harness.Fake.Enqueue(_replies.Message("Paris."));
        harness.Fake.Enqueue(Rating(0.8));

        using var response = await PostAsync(harness, Ask("What is the capital of France?"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("haiku->sonnet", Header(response, "x-modelmix-cascade-path"));
        var records = await LedgerAsync(harness);
        Assert.Equal(4, records.Count);
        Assert.Equal(LedgerStatus.Error, records[1].Status);
        Assert.Equal(529, records[1].HttpStatus);
        Assert.Equal("verifier failed (HTTP 529), counted as 0.00 < 0.70 on haiku → sonnet", records[2].Reason);
    }

    [Fact]
    public async Task Cascade_with_missing_confidence_one_keeps_the_answer_when_the_verifier_fails()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:Cascade:MissingConfidence"] = "1");
        harness.Fake.Enqueue(_replies.Message("Paris."));
        harness.Fake.Enqueue(FakeReply.Overloaded());

        using var response = await PostAsync(harness, Ask("What is the capital of France?"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("haiku", Header(response, "x-modelmix-cascade-path"));
        Assert.Equal(2, harness.Fake.MessageRequests.Count);
    }

    [Fact]
    public async Task Cascade_retries_a_tier_like_a_plain_forward_and_keeps_numbering_attempts()
    {
        await using var harness = await ProxyHarness.StartAsync();
        harness.Fake.Enqueue(FakeReply.Overloaded());
        harness.Fake.Enqueue(_replies.Message("Paris."));
        harness.Fake.Enqueue(Rating(0.95));

        using var response = await PostAsync(harness, Ask("What is the capital of France?"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var records = await LedgerAsync(harness);
        Assert.Equal([1, 2, 3], records.Select(record => record.Attempt));
        Assert.Equal([LedgerStatus.Error, LedgerStatus.Ok, LedgerStatus.Ok], records.Select(record => record.Status));
    }

    [Fact]
    public async Task Cascade_escalates_a_tier_that_still_fails_after_its_retries()
    {
        await using var harness = await ProxyHarness.StartAsync();
        harness.Fake.Enqueue(FakeReply.Overloaded()); // haiku: the first try and both retries
        harness.Fake.Enqueue(FakeReply.Overloaded());
        harness.Fake.Enqueue(FakeReply.Overloaded());
        harness.Fake.Enqueue(_replies.Message("Paris."));
        harness.Fake.Enqueue(Rating(0.9));
        var body = Ask("What is the capital of France?");

        using var response = await PostAsync(harness, body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("Paris.", answer["content"]![0]!["text"]!.GetValue<string>());
        Assert.Equal("haiku->sonnet", Header(response, "x-modelmix-cascade-path"));
        Assert.Equal(Sonnet, Header(response, "x-modelmix-routed-model"));
        Assert.Equal(WithModel(body, Sonnet), harness.Fake.MessageRequests[3].Body);

        var records = await LedgerAsync(harness);
        Assert.Equal([1, 2, 3, 4, 5], records.Select(record => record.Attempt));
        Assert.Equal([Haiku, Haiku, Haiku, Sonnet, Haiku], records.Select(record => record.RoutedModel));
        Assert.Equal([529, 529, 529, 200, 200], records.Select(record => record.HttpStatus));
        Assert.Equal("haiku failed (HTTP 529) → sonnet", records[3].Reason);
        Assert.Equal(Haiku, records[3].EscalatedFrom);
        Assert.Equal(LedgerStatus.Ok, records[3].Status);
    }

    [Fact]
    public async Task Cascade_relays_the_failure_of_the_last_tier_it_can_reach()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:Cascade:MaxEscalations"] = "1");
        for (var i = 0; i < 6; i++)
        {
            harness.Fake.Enqueue(FakeReply.Overloaded()); // haiku, then sonnet: the first try and both retries each
        }

        using var response = await PostAsync(harness, Ask("What is the capital of France?"));

        Assert.Equal(529, (int)response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("overloaded_error", error["error"]!["type"]!.GetValue<string>());
        Assert.Equal(6, harness.Fake.MessageRequests.Count);
        var records = await LedgerAsync(harness);
        Assert.Equal([1, 2, 3, 4, 5, 6], records.Select(record => record.Attempt));
        Assert.Equal([Haiku, Haiku, Haiku, Sonnet, Sonnet, Sonnet], records.Select(record => record.RoutedModel));
        Assert.All(records, record => Assert.Equal(LedgerStatus.Error, record.Status));
        Assert.Equal("haiku failed (HTTP 529) → sonnet", records[3].Reason);
    }

    [Fact]
    public async Task Streaming_cascade_replays_a_kept_cheap_stream_and_streams_the_last_tier_live()
    {
        await using var harness = await ProxyHarness.StartAsync();
        const string Stream = """, "stream": true""";

        // Kept on haiku: its stream is read to the end, rated, then replayed byte for byte.
        harness.Fake.Enqueue(FakeReply.Stream());
        harness.Fake.Enqueue(Rating(0.9));
        using (var response = await PostAsync(harness, Ask("Write a haiku about cost.", Stream)))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
            Assert.Equal("haiku", Header(response, "x-modelmix-cascade-path"));
            var events = await response.Content.ReadAsStringAsync();
            Assert.StartsWith("event: message_start", events, StringComparison.Ordinal);
            Assert.Contains("event: message_stop", events, StringComparison.Ordinal);
            Assert.Contains("small models carry the load", harness.Fake.MessageRequests[1].Body, StringComparison.Ordinal);
        }

        // Escalated twice: opus is the last tier it can reach, so its stream is relayed live, unrated.
        harness.Fake.Reset();
        harness.Fake.Enqueue(FakeReply.Stream());
        harness.Fake.Enqueue(Rating(0.1));
        harness.Fake.Enqueue(FakeReply.Stream());
        harness.Fake.Enqueue(Rating(0.1));
        harness.Fake.Enqueue(FakeReply.Stream());
        var body = Ask("Write a haiku about cost.", Stream);
        string requestId;
        using (var response = await PostAsync(harness, body))
        {
            requestId = Header(response, "x-modelmix-request-id");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("haiku->sonnet->opus", Header(response, "x-modelmix-cascade-path"));
            var events = await response.Content.ReadAsStringAsync();
            Assert.Contains("event: message_stop", events, StringComparison.Ordinal);
            Assert.Contains(PriceBook.Default.ResolveTier("opus"), events, StringComparison.Ordinal);
        }

        var upstream = harness.Fake.MessageRequests;
        Assert.Equal(5, upstream.Count);
        Assert.Equal(WithModel(body, PriceBook.Default.ResolveTier("opus")), upstream[4].Body);
        var records = (await LedgerAsync(harness)).Where(record => record.RequestId == requestId).ToList();
        Assert.Equal([1, 2, 3, 4, 5], records.Select(record => record.Attempt));
        Assert.Equal([true, false, true, false, true], records.Select(record => record.Streaming));
        Assert.Equal(PriceBook.Default.ResolveTier("sonnet"), records[4].EscalatedFrom);
        Assert.All(records, record => Assert.True(record.Cost!.Value.Total > 0m));
    }

    [Fact]
    public async Task Cascade_budget_hold_covers_every_reachable_tier_not_just_the_first()
    {
        // Haiku's worst case for max_tokens 512 is about $0.003; the cascade's (haiku + sonnet + opus + ratings) about $0.03.
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:SessionBudgetUsd"] = "0.01");

        using (var cheap = await PostAsync(harness, Ask("Hello", model: "auto-cheap"), session: "s-1"))
        {
            Assert.Equal(HttpStatusCode.OK, cheap.StatusCode);
        }

        using var response = await PostAsync(harness, Ask("Hello"), session: "s-2");

        Assert.Equal((HttpStatusCode)429, response.StatusCode);
        var error = await response.Content.ReadAsStringAsync();
        Assert.Contains("rate_limit_error", error, StringComparison.Ordinal);
        Assert.Contains("s-2", error, StringComparison.Ordinal);
        Assert.Single(harness.Fake.MessageRequests);
    }

    [Fact]
    public async Task Chat_completions_with_auto_cascade_runs_the_cascade_and_translates_the_kept_answer()
    {
        await using var harness = await ProxyHarness.StartAsync();
        harness.Fake.Enqueue(_replies.Message("Maybe Lyon?"));
        harness.Fake.Enqueue(Rating(0.2));
        harness.Fake.Enqueue(_replies.Message("Paris."));
        harness.Fake.Enqueue(Rating(0.9));
        using var http = harness.Http();

        using var response = await http.PostAsync(
            "v1/chat/completions",
            new StringContent("""{"model":"auto-cascade","messages":[{"role":"user","content":"What is the capital of France?"}]}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var completion = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("chat.completion", completion["object"]!.GetValue<string>());
        Assert.Equal("Paris.", completion["choices"]![0]!["message"]!["content"]!.GetValue<string>());
        Assert.Equal("haiku->sonnet", Header(response, "x-modelmix-cascade-path"));
        Assert.Equal(4, (await LedgerAsync(harness)).Count);
    }

    [Fact]
    public async Task Models_lists_the_cascade_alias_under_its_configured_name()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:Cascade:Alias"] = "smart");
        using var http = harness.Http();

        var models = await http.GetStringAsync("v1/models?limit=1000");

        Assert.Contains("\"smart\"", models, StringComparison.Ordinal);
        Assert.DoesNotContain("\"auto-cascade\"", models, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_cascade_settings_fail_the_start_naming_each_key()
    {
        using var dir = new TempDirectory();
        var settings = new Dictionary<string, string?>
        {
            ["ModelMix:Db"] = Path.Combine(dir.Path, "l.db"),
            ["ModelMix:Cascade:Threshold"] = "1.5",
            ["ModelMix:Cascade:Tiers:0"] = "haiku",
            ["ModelMix:Cascade:Tiers:1"] = "gpt-9",
            ["ModelMix:Cascade:ConfidenceSource"] = "StructuredOutput",
        };

        await using var app = ProxyApplication.Create("http://127.0.0.1:0", null, settings);
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync());

        Assert.Contains("ModelMix:Cascade:Threshold", exception.Message, StringComparison.Ordinal);
        Assert.Contains("ModelMix:Cascade:Tiers:1 'gpt-9'", exception.Message, StringComparison.Ordinal);
        Assert.Contains("ModelMix:Cascade:ConfidenceSource", exception.Message, StringComparison.Ordinal);
    }
}
