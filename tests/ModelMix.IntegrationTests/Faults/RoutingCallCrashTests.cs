using System.Net;
using System.Text.Json.Nodes;
using FakeAnthropic;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Shadow;
using ModelMix.IntegrationTests.Support;
using ModelMix.Ledger;
using ModelMix.Shadow;

namespace ModelMix.IntegrationTests.Faults;

/// <summary>
/// <c>kill -9</c> of a real <c>modelmix serve</c> while the calls the proxy makes besides the answer itself are in flight
/// (docs/ledger.md, "Crash consistency"): the meta-router's classification (<c>auto-meta</c>), the confidence cascade's
/// verifier (<c>auto-cascade</c>), and shadow mode's candidate and judge calls. First some requests are answered in
/// full (their records partly still in the ledger's buffer at the kill), then more whose routing call the fake upstream
/// holds open until the kill. After a restart and reconciliation every call the fake served has exactly one ledger row
/// (its upstream request id when recorded, else an <c>outcome_unknown</c> row from its intent), no (request, attempt)
/// has two, nothing is left pending, and the budget that applies (the key's for the routing calls, the shadow budget
/// for shadow calls) spent exactly what the ledger holds for the requests it reserved for. Nothing races a timer: the
/// held calls are released only after the kill. Each kind runs on a SQLite file and on a real PostgreSQL (the restarted
/// process reconciles the dead one's intents either way; <see cref="CrashStore"/>).
/// </summary>
public sealed class RoutingCallCrashTests
{
    private const int Answered = 4;
    private const int Held = 4;
    private const string Candidate = "claude-sonnet-4-6";

    public enum Kind
    {
        Meta,
        Cascade,
        Shadow,
    }

    [Theory]
    [InlineData(Kind.Meta, false)]
    [InlineData(Kind.Cascade, false)]
    [InlineData(Kind.Shadow, false)]
    [InlineData(Kind.Meta, true)]
    [InlineData(Kind.Cascade, true)]
    [InlineData(Kind.Shadow, true)]
    public async Task Kill_9_with_routing_calls_in_flight_leaves_each_served_call_one_row_and_the_budget_equal_to_the_ledger(Kind kind, bool postgres)
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.RecordRequests = false;
        using var replies = new ShadowReplies();
        await using var store = await CrashStore.OpenAsync(postgres, "routingcrash");
        var budgeted = await store.CreateKeyAsync("budgeted", "10/total");
        var open = await store.CreateKeyAsync("open");

        var settings = Settings(kind);
        var model = kind switch { Kind.Meta => "auto-meta", Kind.Cascade => "auto-cascade", _ => "claude-haiku-4-5" };
        // Shadow calls spend the shadow budget only: the requests go on the key without a budget there.
        string KeyFor(int i) => kind != Kind.Shadow && i % 2 == 0 ? budgeted.Key : open.Key;
        var answer = AnsweringResponder(kind, replies);
        fake.Responder = answer;

        await using (var serve = await store.StartServeAsync(fake.BaseUrl, settings))
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
            for (var i = 0; i < Answered; i++)
            {
                var (status, body) = await CrashTest.SendAsync(http, serve.Url, KeyFor(i), $"answered {i}", model: model, streaming: i % 2 == 1);
                Assert.True(status == HttpStatusCode.OK, body);
            }

            // Classification + answer, tier + verifier, or live + candidate + judge per answered request.
            var answeredCalls = Answered * (kind == Kind.Shadow ? 3 : 2);
            await CrashTest.WaitUntilAsync(() => Task.FromResult(fake.ServedMessages.Count >= answeredCalls), "the answered requests' calls");

            // Held: the classifications; the tiers answered and their verifier calls; the live calls answered, every
            // candidate call of an odd request and the judge calls of the even ones (whose candidate was answered).
            var heldCalls = kind switch { Kind.Meta => Held, Kind.Cascade => 2 * Held, _ => 2 * Held + (Held / 2) };
            await CrashTest.HoldAndKillAsync(
                fake,
                serve,
                Held,
                (i, token) => CrashTest.SendAsync(http, serve.Url, KeyFor(i), $"held {i}", model, streaming: i % 2 == 1, token: token),
                release => fake.Responder = HoldingResponder(kind, replies, answer, release),
                () => fake.Responder = answer,
                answeredCalls + heldCalls);
        }

        await using (var restarted = await store.StartServeAsync(fake.BaseUrl, settings))
        {
            await store.WaitUntilReconciledAsync();
            await restarted.TerminateAsync();
        }

        var rows = await store.ReadRowsAsync();
        var unknown = rows.Where(row => row.Status == LedgerStatus.OutcomeUnknown).ToList();
        CrashTest.AssertEveryServedCallOnce(fake, rows, $"routing call crash test ({kind}, {(postgres ? "PostgreSQL" : "SQLite")})");
        Assert.Equal(rows.Count, rows.Select(row => (row.RequestId, row.Attempt)).Distinct().Count());

        // The calls the kill cut are outcome_unknown rows of their kind.
        switch (kind)
        {
            case Kind.Meta:
                // The held ones, and any answered one whose record was still in the buffer.
                Assert.True(unknown.Count(row => row.Attempt == LedgerRecord.RoutingCallAttempt) >= Held, $"{unknown.Count} outcome_unknown rows for {Held} classifications cut by the kill");
                break;
            case Kind.Cascade:
                Assert.True(unknown.Count(row => row.Policy == "cascade") >= Held, $"{unknown.Count} outcome_unknown rows for {Held} verifier calls cut by the kill");
                break;
            default:
                Assert.True(unknown.Count(row => row.Policy == ShadowRunner.Policy) >= Held / 2, "the held candidate calls are not outcome_unknown rows");
                Assert.True(unknown.Count(row => row.Policy == ShadowRunner.JudgePolicy) >= Held / 2, "the held judge calls are not outcome_unknown rows");
                Assert.All(rows.Where(row => row.Policy == ShadowRunner.Policy && row.Status != LedgerStatus.OutcomeUnknown), row => Assert.NotNull(row.UpstreamRequestId));
                break;
        }

        // The budget that applies: nothing held, and its spend exactly what the ledger holds for the requests it
        // paid for: the budgeted key's requests, classification and verifier calls included (a request is the key's
        // when one of its rows names the key, or when its hold was reclaimed after the kill: the holds of requests
        // that ended are settled and gone); or the shadow pairs' candidate and judge calls.
        var budgetedRequests = rows.Where(row => row.KeyId == budgeted.Info.Id).Select(row => row.RequestId).ToHashSet(StringComparer.Ordinal);
        budgetedRequests.UnionWith(await store.ReservedRequestIdsAsync());
        var paidFor = kind == Kind.Shadow
            ? rows.Where(row => row.Policy is ShadowRunner.Policy or ShadowRunner.JudgePolicy).ToList()
            : rows.Where(row => budgetedRequests.Contains(row.RequestId)).ToList();
        var usage = await store.Budgets.GetUsageAsync(kind == Kind.Shadow ? ShadowRunner.BudgetScope : budgeted.Info.BudgetScope, BudgetWindow.Total, DateTimeOffset.UtcNow);
        Assert.Equal(0m, usage.ReservedUsd);
        Assert.Equal(paidFor.Sum(row => row.Cost?.Total ?? 0m), usage.SpentUsd);
        Assert.True(usage.SpentUsd > 0m);
    }

    private static Dictionary<string, string> Settings(Kind kind)
    {
        // Answers of the unbudgeted key stay in the ledger's buffer until the kill.
        var settings = CrashTest.Settings(("ModelMix__LedgerFlushInterval", "00:00:10"), ("ModelMix__ReservationTtl", "00:00:03"));
        if (kind == Kind.Shadow)
        {
            settings["ModelMix__Shadow__CandidateModel"] = Candidate;
            settings["ModelMix__Shadow__DefaultRate"] = "1";
            settings["ModelMix__Shadow__Comparison"] = "Judge";
            settings["ModelMix__Shadow__JudgeModel"] = "claude-haiku-4-5";
            settings["ModelMix__Shadow__MaxConcurrency"] = "8";
            settings["ModelMix__Shadow__TotalBudgetUsd"] = "10";
            settings["ModelMix__Shadow__ReservationTtl"] = "00:00:03";
        }

        return settings;
    }

    /// <summary>Answers every call: a classification, a high rating, a judge's score; anything else the default answer.</summary>
    private static Func<JsonObject, FakeReply?> AnsweringResponder(Kind kind, ShadowReplies replies)
    {
        var routingReply = kind switch
        {
            Kind.Meta => replies.Text("{\"tier\":\"haiku\",\"reason\":\"simple\"}"),
            Kind.Cascade => replies.Text("{\"confidence\":0.95,\"reason\":\"complete\"}"),
            _ => replies.Text("0.9"),
        };
        return body => IsRoutingCall(body) ? routingReply : null;
    }

    /// <summary>Holds the routing calls (and, in shadow mode, the candidate calls of odd requests) until <paramref name="release"/>.</summary>
    private static Func<JsonObject, FakeReply?> HoldingResponder(Kind kind, ShadowReplies replies, Func<JsonObject, FakeReply?> answer, Task release)
    {
        var held = replies.Text("0.9").WithHold(release);
        return body =>
        {
            if (IsRoutingCall(body))
            {
                return held;
            }

            var odd = body.ToJsonString().Contains("held 1", StringComparison.Ordinal) || body.ToJsonString().Contains("held 3", StringComparison.Ordinal);
            return kind == Kind.Shadow && (string?)body["model"] == Candidate && odd ? FakeReply.Default.WithHold(release) : answer(body);
        };
    }

    /// <summary>The classification, the verifier's and the judge's calls carry a system prompt; the test's requests do not.</summary>
    private static bool IsRoutingCall(JsonObject body) => body["system"] is not null;
}
