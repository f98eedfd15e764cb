using System.Net;
using System.Text;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>The proxy's loop guard and tier-drift alert.</summary>
public sealed class ProxyGuardTests
{
    private const string Plain = """{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"next step?"}]}""";

    internal static async Task<HttpResponseMessage> PostAsync(ProxyHarness harness, string body, string? session, string? apiKey = null)
    {
        using var http = harness.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (session is not null)
        {
            request.Headers.Add("x-modelmix-session", session);
        }

        if (apiKey is not null)
        {
            request.Headers.Add("x-api-key", apiKey);
        }

        return await http.SendAsync(request);
    }

    [Fact]
    public async Task A_session_past_its_step_limit_is_stopped_with_a_clear_error_and_a_ledger_entry()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:LoopGuard:MaxStepsPerSession"] = "2");

        for (var i = 0; i < 2; i++)
        {
            using var ok = await PostAsync(harness, Plain, "agent-run-1");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var stopped = await PostAsync(harness, Plain, "agent-run-1");
        using var other = await PostAsync(harness, Plain, "agent-run-2");

        Assert.Equal(HttpStatusCode.BadRequest, stopped.StatusCode);
        Assert.Contains("step limit", (await ProxyValidationTests.ReadErrorAsync(stopped)).Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Equal(3, harness.Fake.MessageCount);
        var guard = Assert.Single(await harness.ReadLedgerAsync(), record => record.ErrorType == "loop_guard");
        Assert.Equal("agent-run-1", guard.SessionId);
        Assert.Equal(LedgerStatus.Error, guard.Status);
        Assert.Equal(0m, guard.Cost!.Value.Total);
    }

    [Fact]
    public async Task Sessions_are_per_key_one_team_cannot_use_up_another_teams_session()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:LoopGuard:MaxStepsPerSession"] = "2");
        string teamA, teamB;
        await using (var keys = new ModelMix.Keys.SqliteKeyStore(harness.DbPath))
        {
            teamA = (await keys.CreateAsync("team-a", [])).Key;
            teamB = (await keys.CreateAsync("team-b", [])).Key;
        }

        // Team A uses up its session "agent-1" (2 steps, the third is stopped) …
        for (var i = 0; i < 2; i++)
        {
            using var ok = await PostAsync(harness, Plain, "agent-1", teamA);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var stoppedA = await PostAsync(harness, Plain, "agent-1", teamA);
        Assert.Equal(HttpStatusCode.BadRequest, stoppedA.StatusCode);

        // … and team B's session of the same name is its own: two steps pass, the third is stopped.
        for (var i = 0; i < 2; i++)
        {
            using var ok = await PostAsync(harness, Plain, "agent-1", teamB);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var stoppedB = await PostAsync(harness, Plain, "agent-1", teamB);
        Assert.Equal(HttpStatusCode.BadRequest, stoppedB.StatusCode);
        Assert.Equal(4, harness.Fake.MessageCount);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task The_same_tool_call_repeated_in_the_conversation_trips_the_guard_before_dispatch()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:LoopGuard:MaxRepeatedToolCalls"] = "3");
        var turns = new StringBuilder();
        for (var i = 0; i < 3; i++)
        {
            turns.Append($$$"""{"role":"assistant","content":[{"type":"tool_use","id":"toolu_{{{i}}}","name":"get_weather","input":{"city":"Paris"}}]},""");
            turns.Append($$$"""{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_{{{i}}}","content":"12°C"}]},""");
        }

        var body = $$"""{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"weather?"},{{turns}}{"role":"user","content":"and now?"}]}""";

        using var response = await PostAsync(harness, body, "agent-run-3");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("get_weather", (await ProxyValidationTests.ReadErrorAsync(response)).Message, StringComparison.Ordinal);
        Assert.Equal(0, harness.Fake.MessageCount);
    }

    [Fact]
    public async Task Spend_per_minute_is_capped_per_session()
    {
        // Each Haiku 4.5 answer costs $0.000184 (19 in, 33 out); two of them reach $0.000368 ≥ $0.0003.
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:LoopGuard:MaxSpendPerMinuteUsd"] = "0.0003");

        using (var first = await PostAsync(harness, Plain, "burst"))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using (var second = await PostAsync(harness, Plain, "burst"))
        {
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        }

        using var third = await PostAsync(harness, Plain, "burst");
        Assert.Equal(HttpStatusCode.BadRequest, third.StatusCode);
        Assert.Contains("in the last minute", (await ProxyValidationTests.ReadErrorAsync(third)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tier_past_its_share_bound_is_reported_once()
    {
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:TierDrift:MaxShare:opus"] = "0.2";
            settings["ModelMix:TierDrift:MinCalls"] = "4";
            settings["ModelMix:TierDrift:WindowCalls"] = "10";
        });

        for (var i = 0; i < 6; i++)
        {
            using var response = await PostAsync(harness, Plain.Replace("claude-haiku-4-5", "claude-opus-4-5", StringComparison.Ordinal), null);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Single(harness.Logs.Lines, line => line.Contains("TierDriftMonitor", StringComparison.Ordinal) && line.StartsWith("Warning", StringComparison.Ordinal));
    }
}
