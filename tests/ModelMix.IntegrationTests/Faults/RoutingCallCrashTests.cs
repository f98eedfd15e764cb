using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using FakeAnthropic;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Cli;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Shadow;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Shadow;
using ModelMix.Tests.Shared;

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
/// held calls are released only after the kill.
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
    [InlineData(Kind.Meta)]
    [InlineData(Kind.Cascade)]
    [InlineData(Kind.Shadow)]
    public async Task Kill_9_with_routing_calls_in_flight_leaves_each_served_call_one_row_and_the_budget_equal_to_the_ledger(Kind kind)
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.RecordRequests = false;
        using var replies = new ShadowReplies();
        using var dir = new TempDirectory();
        var db = Path.Combine(dir.Path, "ledger.db");
        CreatedApiKey budgeted, open;
        await using (var keys = new SqliteKeyStore(db))
        {
            budgeted = await keys.CreateAsync("budgeted", [BudgetCap.Parse("10/total")]);
            open = await keys.CreateAsync("open", []);
        }

        var settings = Settings(kind);
        var model = kind switch { Kind.Meta => "auto-meta", Kind.Cascade => "auto-cascade", _ => "claude-haiku-4-5" };
        // Shadow calls spend the shadow budget only: the requests go on the key without a budget there.
        string KeyFor(int i) => kind != Kind.Shadow && i % 2 == 0 ? budgeted.Key : open.Key;
        var answer = AnsweringResponder(kind, replies);
        fake.Responder = answer;

        await using (var serve = await ServeProcess.StartAsync(fake.BaseUrl, db, "sk-test-upstream", settings))
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
            for (var i = 0; i < Answered; i++)
            {
                var (status, body) = await SendAsync(http, serve.Url, KeyFor(i), model, streaming: i % 2 == 1, $"answered {i}", CancellationToken.None);
                Assert.True(status == HttpStatusCode.OK, body);
            }

            // Classification + answer, tier + verifier, or live + candidate + judge per answered request.
            var answeredCalls = Answered * (kind == Kind.Shadow ? 3 : 2);
            await WaitUntilAsync(() => Task.FromResult(fake.ServedMessages.Count >= answeredCalls), "the answered requests' calls");

            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            fake.Responder = HoldingResponder(kind, replies, answer, release.Task);
            using var cut = new CancellationTokenSource();
            var held = Enumerable.Range(0, Held).Select(i => Task.Run(async () =>
            {
                try
                {
                    await SendAsync(http, serve.Url, KeyFor(i), model, streaming: i % 2 == 1, $"held {i}", cut.Token);
                }
                catch (Exception exception) when (exception is HttpRequestException or IOException or OperationCanceledException)
                {
                    // The kill cut it.
                }
            })).ToList();

            // Held: the classifications; the tiers answered and their verifier calls; the live calls answered, every
            // candidate call of an odd request and the judge calls of the even ones (whose candidate was answered).
            var heldCalls = kind switch { Kind.Meta => Held, Kind.Cascade => 2 * Held, _ => 2 * Held + (Held / 2) };
            await WaitUntilAsync(() => Task.FromResult(fake.ServedMessages.Count >= answeredCalls + heldCalls), "the held calls to reach the fake");

            await serve.KillAsync();
            release.TrySetResult();
            fake.Responder = answer;
            await cut.CancelAsync();
            await Task.WhenAll(held);
        }

        await using (var restarted = await ServeProcess.StartAsync(fake.BaseUrl, db, "sk-test-upstream", settings))
        {
            await using var ledger = new SqliteLedgerStore(db);
            await ledger.MigrateAsync();
            await WaitUntilAsync(async () => await ledger.CountIntentsAsync() == 0 && !await OpenHoldsAsync(db), "the dead process's intents and holds to be reconciled");
            await restarted.TerminateAsync();

            var rows = new List<LedgerRecord>();
            await foreach (var record in ledger.ReadAsync(new LedgerQuery()))
            {
                rows.Add(record);
            }

            var served = fake.ServedMessages.Select(message => message.RequestId).ToList();
            var unknown = rows.Where(row => row.Status == LedgerStatus.OutcomeUnknown).ToList();
            Console.WriteLine($"routing call crash test ({kind}): {served.Count} calls served, {rows.Count} ledger rows ({rows.Count(row => row.UpstreamRequestId is not null)} with the upstream request id, {unknown.Count} outcome_unknown from intents)");

            // Every recorded upstream id is one served call, recorded once; the rows are as many as the calls served.
            var byUpstream = rows.Where(row => row.UpstreamRequestId is not null).GroupBy(row => row.UpstreamRequestId!).ToList();
            Assert.All(byUpstream, group => Assert.True(group.Count() == 1 && served.Contains(group.Key), $"upstream id {group.Key}: {group.Count()} rows"));
            Assert.Equal(served.Count, rows.Count);
            Assert.Equal(rows.Count, rows.Select(row => (row.RequestId, row.Attempt)).Distinct().Count());
            Assert.All(unknown, row => Assert.True(row.UsageEstimated && row.Cost is { Total: > 0m }, $"{row.Policy} row on {row.RoutedModel} is not charged its worst case"));

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
            budgetedRequests.UnionWith(await ReservedRequestIdsAsync(db));
            var paidFor = kind == Kind.Shadow
                ? rows.Where(row => row.Policy is ShadowRunner.Policy or ShadowRunner.JudgePolicy).ToList()
                : rows.Where(row => budgetedRequests.Contains(row.RequestId)).ToList();
            await using var budgets = new SqliteBudgetStore(db);
            var usage = await budgets.GetUsageAsync(kind == Kind.Shadow ? ShadowRunner.BudgetScope : budgeted.Info.BudgetScope, BudgetWindow.Total, DateTimeOffset.UtcNow);
            Assert.Equal(0m, usage.ReservedUsd);
            Assert.Equal(paidFor.Sum(row => row.Cost?.Total ?? 0m), usage.SpentUsd);
            Assert.True(usage.SpentUsd > 0m);
        }

        SqliteConnection.ClearAllPools();
    }

    private static Dictionary<string, string> Settings(Kind kind)
    {
        var settings = new Dictionary<string, string>
        {
            // Answers of the unbudgeted key stay in the ledger's buffer until the kill.
            ["ModelMix__LedgerFlushInterval"] = "00:00:10",
            ["ModelMix__ReservationTtl"] = "00:00:03",
            ["ModelMix__Budgets__SweepInterval"] = "00:00:01",
            ["ModelMix__Intents__HeartbeatInterval"] = "00:00:00.200",
            ["ModelMix__Intents__StaleAfter"] = "00:00:02",
            ["ModelMix__Intents__SweepInterval"] = "00:00:00.200",
            ["ModelMix__MaxRetries"] = "0",
        };
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

    private static async Task<HashSet<string>> ReservedRequestIdsAsync(string db)
    {
        await using var connection = new SqliteConnection($"Data Source={db};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT request_id FROM budget_reservations;";
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    private static async Task<bool> OpenHoldsAsync(string db)
    {
        await using var connection = new SqliteConnection($"Data Source={db};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM budget_reservations WHERE reclaimed_at IS NULL;";
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(90), "timed out waiting for " + what);
            await Task.Delay(100);
        }
    }

    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpClient http, Uri replica, string key, string model, bool streaming, string tag, CancellationToken token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(replica, "v1/messages"))
        {
            Content = new StringContent(
                $$"""{"model":"{{model}}","max_tokens":64,"stream":{{(streaming ? "true" : "false")}},"messages":[{"role":"user","content":"{{tag}}"}]}""",
                Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Add("x-api-key", key);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(token));
    }
}
