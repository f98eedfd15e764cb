using System.Net;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;

namespace ModelMix.IntegrationTests.Keys;

/// <summary>
/// Session budgets are per key (issue 20 item 7: "Team A used up team B's session"): two keys that both name a session
/// <c>abc</c> each have its own <c>ModelMix:SessionBudgetUsd</c> (budget scope <c>session:{key}:{session}</c>).
/// </summary>
public sealed class SessionBudgetPerKeyTests
{
    // 19 input + 33 output tokens answered by the default fixture, held at ~22 input + 50 output: on Haiku 4.5
    // ($1 / $5 per MTok) a call costs 19 × $1/M + 33 × $5/M = $0.000184 and holds 22 × $1/M + 50 × $5/M = $0.000272 (KeysProxyTests).
    private const string SmallBody = """{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""";

    [Fact]
    public async Task One_key_using_up_its_session_budget_leaves_another_keys_session_of_the_same_name_untouched()
    {
        // $0.0003 per session: a first call fits (hold 0.000272); a second does not (0.000184 spent + 0.000272 held, or
        // 0.000272 + 0.000272 if the first is not settled yet: either way past 0.0003).
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:SessionBudgetUsd"] = "0.0003");
        string teamA, teamB;
        await using (var keys = new ModelMix.Keys.SqliteKeyStore(harness.DbPath))
        {
            teamA = (await keys.CreateAsync("team-a", [])).Key;
            teamB = (await keys.CreateAsync("team-b", [])).Key;
        }

        using (var first = await ProxyGuardTests.PostAsync(harness, SmallBody, "abc", teamA))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using (var refused = await ProxyGuardTests.PostAsync(harness, SmallBody, "abc", teamA))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Contains("session 'abc'", (await ProxyValidationTests.ReadErrorAsync(refused)).Message, StringComparison.Ordinal);
        }

        // Team B's "abc" is its own session with its own $0.0003 (before: team A's spend counted against it, refused at once).
        using (var own = await ProxyGuardTests.PostAsync(harness, SmallBody, "abc", teamB))
        {
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        }

        using (var refusedB = await ProxyGuardTests.PostAsync(harness, SmallBody, "abc", teamB))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refusedB.StatusCode);
        }

        Assert.Equal(2, harness.Fake.MessageCount);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }
}
