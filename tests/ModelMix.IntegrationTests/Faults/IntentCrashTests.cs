using System.Diagnostics;
using System.Net;
using System.Text;
using FakeAnthropic;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Cli;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Tests.Shared;

namespace ModelMix.IntegrationTests.Faults;

/// <summary>
/// The attempt intent journal under <c>kill -9</c> (docs/ledger.md, "Crash consistency"): real <c>modelmix serve</c>
/// processes, tagged requests (streaming and not) through them, a kill while some answers' records are still in the
/// ledger's buffer and other calls are held open by the upstream, a restart, and reconciliation. Then every call the
/// fake upstream served has exactly one ledger row (by its upstream request id when the row was recorded, else an
/// <c>outcome_unknown</c> row from its intent), no request has two rows, and the budget's spend is the ledger's sum to
/// the nano-dollar. Nothing races a timer: the killed calls are held by the fake (<see cref="FakeReply.WithHold"/>)
/// until the kill, and the answered ones sit in a ledger buffer whose flush interval (10 s, the most allowed) usually outlasts that phase (when it does not, fewer rows come from intents; the assertions hold either way).
/// </summary>
public sealed class IntentCrashTests
{
    private const int Answered = 12;
    private const int Held = 6;

    private static Dictionary<string, string> Settings() => new()
    {
        // Answers of the unbudgeted key stay in the ledger's buffer until the kill (budgeted requests settle through a
        // ledger commit, so theirs are durable before their request ends).
        ["ModelMix__LedgerFlushInterval"] = "00:00:10",
        ["ModelMix__ReservationTtl"] = "00:00:03",
        ["ModelMix__Budgets__SweepInterval"] = "00:00:01",
        ["ModelMix__Intents__HeartbeatInterval"] = "00:00:00.200",
        ["ModelMix__Intents__StaleAfter"] = "00:00:02",
        ["ModelMix__Intents__SweepInterval"] = "00:00:00.200",
        ["ModelMix__MaxRetries"] = "0",
    };

    [Fact]
    public async Task Sqlite_kill_9_leaves_every_served_call_in_the_ledger_once_and_the_budget_equal_to_it()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.RecordRequests = false;
        using var dir = new TempDirectory();
        var db = Path.Combine(dir.Path, "ledger.db");
        CreatedApiKey budgeted, open;
        await using (var keys = new SqliteKeyStore(db))
        {
            budgeted = await keys.CreateAsync("budgeted", [BudgetCap.Parse("10/total")]);
            open = await keys.CreateAsync("open", []);
        }

        await using (var serve = await ServeProcess.StartAsync(fake.BaseUrl, db, "sk-test-upstream", Settings()))
        {
            await RunUntilKilledAsync(fake, [serve], kill: serve, budgeted.Key, open.Key);
        }

        await using (var restarted = await ServeProcess.StartAsync(fake.BaseUrl, db, "sk-test-upstream", Settings()))
        {
            await using var ledger = new SqliteLedgerStore(db);
            await ledger.MigrateAsync();
            await using var budgets = new SqliteBudgetStore(db);
            await WaitUntilReconciledAsync(ledger, () => OpenHoldsAsync(db));
            await restarted.TerminateAsync();
            await AssertConsistentAsync(fake, ledger, budgets, budgeted.Info.Id, budgeted.Info.BudgetScope);
        }

        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task Postgres_kill_9_of_one_replica_leaves_every_served_call_in_the_ledger_once_and_the_budget_equal_to_it()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.RecordRequests = false;
        var store = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("intentcrash");
        CreatedApiKey budgeted, open;
        await using (var keys = new PostgresKeyStore(store))
        {
            budgeted = await keys.CreateAsync("budgeted", [BudgetCap.Parse("10/total")]);
            open = await keys.CreateAsync("open", []);
        }

        await using var survivor = await ServeProcess.StartAsync(fake.BaseUrl, store, "sk-test-upstream", Settings());
        await using (var victim = await ServeProcess.StartAsync(fake.BaseUrl, store, "sk-test-upstream", Settings()))
        {
            await RunUntilKilledAsync(fake, [victim, survivor], kill: victim, budgeted.Key, open.Key);
        }

        // The survivor reconciles the dead replica's intents and reclaims its holds; then the victim comes back.
        await using var ledger = new PostgresLedgerStore(store);
        await ledger.MigrateAsync();
        await using var budgets = new PostgresBudgetStore(store);
        await WaitUntilReconciledAsync(ledger, () => OpenHoldsAsync(budgets, budgeted.Info.BudgetScope));
        await using (var restarted = await ServeProcess.StartAsync(fake.BaseUrl, store, "sk-test-upstream", Settings()))
        {
            await restarted.TerminateAsync();
        }

        await survivor.TerminateAsync();
        await AssertConsistentAsync(fake, ledger, budgets, budgeted.Info.Id, budgeted.Info.BudgetScope);

        // The hourly rollups equal the raw rows to the last digit after the kill and the reconciliation (issue 26), the
        // reconciled rows included (moved through the partitioned table's batch insert and rolled up with it).
        var raw = new List<LedgerRecord>();
        await foreach (var record in ledger.ReadAsync(LedgerQuery.All))
        {
            raw.Add(record);
        }

        Assert.Contains(raw, r => r.Status == LedgerStatus.OutcomeUnknown);
        Assert.Equal(LedgerRollupOracle.Expected(raw), LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync(ledger)));
    }

    /// <summary>
    /// Sends <see cref="Answered"/> answered requests round the replicas (alternating keys and streaming), then
    /// <see cref="Held"/> more to <paramref name="kill"/> that the fake holds open, and kills it once they all reached
    /// the fake. Requests to the other replicas finish after the kill (their holds are released).
    /// </summary>
    private static async Task RunUntilKilledAsync(FakeAnthropicServer fake, IReadOnlyList<ServeProcess> replicas, ServeProcess kill, string budgetedKey, string openKey)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
        for (var i = 0; i < Answered; i++)
        {
            var (status, _) = await SendAsync(http, replicas[i % replicas.Count].Url, i % 2 == 0 ? budgetedKey : openKey, streaming: i % 3 == 0, $"answered {i}", CancellationToken.None);
            Assert.Equal(HttpStatusCode.OK, status);
        }

        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fake.SetDefault(FakeReply.Default.WithHold(release.Task));
        using var cut = new CancellationTokenSource();
        var held = Enumerable.Range(0, Held).Select(i => Task.Run(async () =>
        {
            try
            {
                await SendAsync(http, kill.Url, i % 2 == 0 ? budgetedKey : openKey, streaming: i % 2 == 1, $"held {i}", cut.Token);
            }
            catch (Exception exception) when (exception is HttpRequestException or IOException or OperationCanceledException)
            {
                // The kill cut it.
            }
        })).ToList();
        await WaitUntilAsync(() => Task.FromResult(fake.ServedMessages.Count >= Answered + Held), "the held calls to reach the fake");

        await kill.KillAsync();
        release.TrySetResult();
        fake.SetDefault(FakeReply.Default);
        await cut.CancelAsync();
        await Task.WhenAll(held);
    }

    private static async Task WaitUntilReconciledAsync(IAttemptJournalStore ledger, Func<Task<bool>> openHolds) =>
        await WaitUntilAsync(async () => await ledger.CountIntentsAsync() == 0 && !await openHolds(), "the dead process's intents and holds to be reconciled");

    private static async Task AssertConsistentAsync(FakeAnthropicServer fake, ILedgerStore ledger, IBudgetStore budgets, string budgetedKeyId, string scope)
    {
        var rows = new List<LedgerRecord>();
        await foreach (var record in ledger.ReadAsync(new LedgerQuery()))
        {
            rows.Add(record);
        }

        var served = fake.ServedMessages.Select(message => message.RequestId).ToList();
        var byUpstream = rows.Where(row => row.UpstreamRequestId is not null).GroupBy(row => row.UpstreamRequestId!).ToDictionary(group => group.Key, group => group.Count());
        var unknown = rows.Count(row => row.Status == LedgerStatus.OutcomeUnknown);
        var matched = served.Count(id => byUpstream.ContainsKey(id));
        Console.WriteLine($"intent crash test: {served.Count} calls served, {rows.Count} ledger rows ({matched} matched by upstream request id, {unknown} outcome_unknown from intents)");

        // Every recorded upstream id is one served call, recorded once; every other served call is one outcome_unknown row.
        Assert.All(byUpstream, pair => Assert.True(pair.Value == 1 && served.Contains(pair.Key), $"upstream id {pair.Key}: {pair.Value} rows"));
        Assert.Equal(served.Count - matched, unknown);
        Assert.True(unknown >= Held, $"only {unknown} outcome_unknown rows for {Held} calls cut by the kill");
        Assert.Equal(served.Count, rows.Count);
        Assert.All(rows.Where(row => row.Status == LedgerStatus.OutcomeUnknown), row => Assert.True(row.UsageEstimated && row.Cost is { Total: > 0m }));

        // One attempt per request here (no retries): no request id twice.
        Assert.Equal(rows.Count, rows.Select(row => row.RequestId).Distinct(StringComparer.Ordinal).Count());

        // The budget: nothing held, the spend exactly the ledger's rows of the budgeted key.
        var usage = await budgets.GetUsageAsync(scope, BudgetWindow.Total, DateTimeOffset.UtcNow);
        Assert.Equal(0m, usage.ReservedUsd);
        Assert.Equal(rows.Where(row => row.KeyId == budgetedKeyId).Sum(row => row.Cost?.Total ?? 0m), usage.SpentUsd);
    }

    private static async Task<bool> OpenHoldsAsync(string db)
    {
        await using var connection = new SqliteConnection($"Data Source={db};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM budget_reservations WHERE reclaimed_at IS NULL;";
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }

    private static async Task<bool> OpenHoldsAsync(PostgresBudgetStore budgets, string scope) =>
        (await budgets.GetUsageAsync(scope, BudgetWindow.Total, DateTimeOffset.UtcNow)).ReservedUsd > 0m;

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(90), "timed out waiting for " + what);
            await Task.Delay(100);
        }
    }

    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpClient http, Uri replica, string key, bool streaming, string tag, CancellationToken token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(replica, "v1/messages"))
        {
            Content = new StringContent(
                $$"""{"model":"claude-haiku-4-5","max_tokens":64,"stream":{{(streaming ? "true" : "false")}},"messages":[{"role":"user","content":"{{tag}}"}]}""",
                Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Add("x-api-key", key);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(token));
    }
}
