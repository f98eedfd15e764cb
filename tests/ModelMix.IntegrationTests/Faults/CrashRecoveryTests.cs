using System.Collections.Concurrent;
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
using ModelMix.Tests.Shared;

namespace ModelMix.IntegrationTests.Faults;

/// <summary>
/// <c>kill -9</c> of the real <c>modelmix serve</c> under load, then a restart on the same store: the ledger keeps
/// every answer acknowledged before the documented un-committed window (docs/ledger.md: about the flush interval),
/// records nothing twice and nothing that was not sent; the budget reservations the dead process held are reclaimed
/// once their TTL passes, leaving the spend consistent with the ledger; the store opens and serves at once.
/// </summary>
public sealed class CrashRecoveryTests
{
    /// <summary>
    /// The margin past which an acknowledged answer must be in the ledger: the 100 ms flush interval plus the commit,
    /// generous for a loaded 2-core machine (the figure actually lost is printed).
    /// </summary>
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(2);

    private static readonly Dictionary<string, string> Environment = new()
    {
        ["ModelMix__ReservationTtl"] = "00:00:02",
    };

    [Fact]
    public async Task Kill_9_under_load_loses_at_most_the_flush_window_and_leaks_no_budget()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.RecordRequests = false;
        fake.SetDefault(FakeReply.Default.WithDelay(TimeSpan.FromMilliseconds(20)));
        using var dir = new TempDirectory();
        var db = Path.Combine(dir.Path, "ledger.db");
        CreatedApiKey key;
        await using (var keys = new SqliteKeyStore(db))
        {
            // A total budget: its usage is read after the restart without a day or month boundary in between (the proxy
            // runs as its own process, on the system clock).
            key = await keys.CreateAsync("load", [BudgetCap.Parse("10/total")]);
        }

        var acknowledged = new ConcurrentDictionary<string, long>(); // request id → when the client had the whole answer
        var clock = Stopwatch.StartNew();
        long killedAt;
        await using (var serve = await ServeProcess.StartAsync(fake.BaseUrl, db, "sk-test-upstream", Environment))
        {
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = serve.Url, Timeout = TimeSpan.FromSeconds(30) };
            using var stop = new CancellationTokenSource();
            var workers = Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    try
                    {
                        var (id, complete) = await SendAsync(http, key.Key, streaming: (worker + i) % 2 == 0, stop.Token);
                        if (complete)
                        {
                            acknowledged[id] = clock.ElapsedTicks;
                        }
                    }
                    catch (Exception exception) when (exception is HttpRequestException or IOException or OperationCanceledException)
                    {
                        if (stop.IsCancellationRequested)
                        {
                            return;
                        }
                    }
                }
            })).ToList();

            // Load for a while, then kill -9 in the middle of it.
            var loaded = Stopwatch.StartNew();
            while (acknowledged.Count < 60 && loaded.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(50);
            }

            await serve.KillAsync();
            killedAt = clock.ElapsedTicks; // answers acknowledged up to here came from the live process
            await stop.CancelAsync();
            await Task.WhenAll(workers);
        }

        Assert.True(acknowledged.Count >= 60, $"only {acknowledged.Count} answers before the kill");

        // Let the dead process's reservations pass their TTL, then restart on the same store: wait until the store's
        // latest open hold has expired (read from the store, not guessed), so the restarted proxy reclaims them all at start.
        await WaitUntilHoldsExpiredAsync(db);
        await using (var restarted = await ServeProcess.StartAsync(fake.BaseUrl, db, "sk-test-upstream", Environment))
        {
            using var http = new HttpClient { BaseAddress = restarted.Url };
            var (_, complete) = await SendAsync(http, key.Key, streaming: false, CancellationToken.None);
            Assert.True(complete, "the restarted proxy does not serve");
            await restarted.TerminateAsync();
            Assert.Equal(0, restarted.ExitCode);
        }

        var records = await ReadAllAsync(db);

        // The hourly rollups the killed writer kept are those of the raw rows it committed, to the last digit: they are
        // written in the same transactions (docs/ledger.md, "Rollups").
        await using (var store = new SqliteLedgerStore(db))
        {
            await store.MigrateAsync(CancellationToken.None);
            Assert.Equal(LedgerRollupOracle.Expected(records), LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync(store)));
        }

        var recordedIds = records.Select(record => record.RequestId).ToHashSet(StringComparer.Ordinal);

        // Nothing doubled, nothing invented: one record per request (no retries happen here), never more than were sent.
        Assert.Equal(records.Count, recordedIds.Count);
        Assert.True(records.Count <= fake.MessageCount, $"{records.Count} records for {fake.MessageCount} upstream calls");

        // Every answer acknowledged before the window is in the ledger.
        var windowTicks = (long)(Window.TotalSeconds * Stopwatch.Frequency);
        var missing = acknowledged.Where(ack => !recordedIds.Contains(ack.Key)).ToList();
        var missingOld = missing.Where(ack => ack.Value < killedAt - windowTicks).ToList();
        Console.WriteLine($"crash test: {acknowledged.Count} acknowledged, {records.Count} records, {missing.Count} acknowledged answers lost, acknowledged {string.Join(", ", missing.Select(ack => (killedAt - ack.Value) * 1000 / Stopwatch.Frequency).Order().Select(ms => $"{ms} ms"))} before the kill returned");
        Assert.Empty(missingOld);

        // Budgets: no reservation of the dead process is left, and the spend is the ledger's plus at most the answers
        // the upstream gave whose record was still in the lost window. Those include answers settled but cut off from
        // the client by the kill (never acknowledged), so they are counted from the upstream's calls, not the acks.
        await using var budgets = new SqliteBudgetStore(db);
        var usage = await budgets.GetUsageAsync(key.Info.BudgetScope, BudgetWindow.Total, DateTimeOffset.UtcNow);
        Assert.Equal(0m, usage.ReservedUsd);
        var ledgerSpend = records.Sum(record => record.Cost?.Total ?? 0m);
        var maxAnswerCost = records.Where(record => record.Cost is not null).Select(record => record.Cost!.Value.Total).DefaultIfEmpty(0m).Max();
        var unrecordedAnswers = fake.MessageCount - records.Count;
        Assert.InRange(usage.SpentUsd, ledgerSpend, ledgerSpend + (unrecordedAnswers * maxAnswerCost));
        SqliteConnection.ClearAllPools();
    }

    /// <summary>Waits until every open budget hold in the store has expired on the system clock (the proxy's).</summary>
    private static async Task WaitUntilHoldsExpiredAsync(string db)
    {
        long? latest;
        await using (var connection = new SqliteConnection($"Data Source={db}"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT MAX(expires_at) FROM budget_reservations WHERE reclaimed_at IS NULL;";
            latest = await command.ExecuteScalarAsync() is long ticks ? ticks : null;
        }

        SqliteConnection.ClearAllPools();
        if (latest is { } stored)
        {
            // Stored as ticks since the Unix epoch, UTC (SqliteLedgerSchema.ToStoredTimestamp).
            var expiry = DateTimeOffset.UnixEpoch.AddTicks(stored);
            while (DateTimeOffset.UtcNow <= expiry)
            {
                await Task.Delay(expiry - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(1));
            }
        }
    }

    private static async Task<(string Id, bool Complete)> SendAsync(HttpClient http, string key, bool streaming, CancellationToken token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
        {
            Content = new StringContent(
                $$"""{"model":"claude-haiku-4-5","max_tokens":64,"stream":{{(streaming ? "true" : "false")}},"messages":[{"role":"user","content":"Tag this ticket."}]}""",
                Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Add("x-api-key", key);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
        var body = await response.Content.ReadAsStringAsync(token);
        var id = response.Headers.TryGetValues("x-modelmix-request-id", out var ids) ? ids.First() : "";
        var complete = response.StatusCode == HttpStatusCode.OK
            && (streaming ? body.Contains("event: message_stop", StringComparison.Ordinal) && !body.Contains("event: error", StringComparison.Ordinal) : body.Contains("\"usage\"", StringComparison.Ordinal));
        return (id, complete);
    }

    private static async Task<List<LedgerRecord>> ReadAllAsync(string db)
    {
        await using var store = new SqliteLedgerStore(db);
        await store.MigrateAsync(CancellationToken.None);
        var records = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(new LedgerQuery(), CancellationToken.None))
        {
            records.Add(record);
        }

        return records;
    }
}
