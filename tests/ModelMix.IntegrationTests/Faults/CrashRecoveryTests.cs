using System.Collections.Concurrent;
using System.Diagnostics;
using FakeAnthropic;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Support;
using ModelMix.Ledger;
using ModelMix.Tests.Shared;

namespace ModelMix.IntegrationTests.Faults;

/// <summary>
/// <c>kill -9</c> of the real <c>modelmix serve</c> under load (streaming and not, 8 clients), then a restart on the same
/// store, through the crash harness (<see cref="CrashStore"/>, <see cref="CrashTest"/>): the ledger keeps every answer the
/// client had before the kill (a record still in the ledger's buffer comes back from its intent: docs/ledger.md, "Crash
/// consistency"), records nothing twice and nothing that was not sent; the budget holds the dead process kept are
/// reclaimed once their TTL passes, leaving the spend equal to the ledger; the store opens and serves at once.
/// </summary>
/// <remarks>
/// No wait on a timer: <c>serve</c> runs on the system clock (it takes no fake clock), so the restarted process is given
/// a 2 s reservation TTL, a 1 s budget sweep and a 2 s <c>StaleAfter</c> (<see cref="CrashTest.Settings"/>), and the test
/// polls the store, with a deadline, until no intent and no hold is left (<see cref="CrashStore.WaitUntilReconciledAsync"/>).
/// </remarks>
public sealed class CrashRecoveryTests
{
    private const int AnsweredBeforeKill = 60;

    private static Dictionary<string, string> Settings() => CrashTest.Settings(("ModelMix__ReservationTtl", "00:00:02"));

    [Fact]
    public async Task Kill_9_under_load_loses_no_acknowledged_answer_and_leaks_no_budget()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.RecordRequests = false;
        fake.SetDefault(FakeReply.Default.WithDelay(TimeSpan.FromMilliseconds(20)));
        await using var store = CrashStore.Sqlite();

        // A total budget: its usage is read after the restart without a day or month boundary in between (the proxy
        // runs as its own process, on the system clock).
        var key = await store.CreateKeyAsync("load", "10/total");

        var acknowledged = new ConcurrentDictionary<string, long>(); // request id → when the client had the whole answer
        var clock = Stopwatch.StartNew();
        long killedAt;
        await using (var serve = await store.StartServeAsync(fake.BaseUrl, Settings()))
        {
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { Timeout = TimeSpan.FromSeconds(30) };
            using var stop = new CancellationTokenSource();
            var workers = Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    try
                    {
                        var reply = await CrashTest.SendForReplyAsync(http, serve.Url, key.Key, "Tag this ticket.", streaming: (worker + i) % 2 == 0, token: stop.Token);
                        if (reply is { Complete: true, RequestId: { } id })
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

            // Load until enough answers are in, then kill -9 in the middle of it.
            await CrashTest.WaitUntilAsync(() => Task.FromResult(acknowledged.Count >= AnsweredBeforeKill), $"{AnsweredBeforeKill} answers before the kill", seconds: 60);
            await serve.KillAsync();
            killedAt = clock.ElapsedTicks; // answers acknowledged up to here came from the live process
            await stop.CancelAsync();
            await Task.WhenAll(workers);
        }

        // Restart at once on the same store: it serves at once, reconciles the dead process's intents once its heartbeat
        // is StaleAfter old, and its sweep reclaims the holds whose TTL passed (both polled in the store).
        await using (var restarted = await store.StartServeAsync(fake.BaseUrl, Settings()))
        {
            using var http = new HttpClient();
            Assert.True((await CrashTest.SendForReplyAsync(http, restarted.Url, key.Key, "After the restart.")).Complete, "the restarted proxy does not serve");
            await store.WaitUntilReconciledAsync();
            await restarted.TerminateAsync();
            Assert.Equal(0, restarted.ExitCode);
        }

        var records = await store.ReadRowsAsync();

        // The hourly rollups the killed writer kept are those of the raw rows it committed, to the last digit: they are
        // written in the same transactions (docs/ledger.md, "Rollups"), the reconciled rows included.
        Assert.Equal(LedgerRollupOracle.Expected(records), LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync((ILedgerRollupStore)await store.LedgerAsync())));

        // Every call the fake served is one row, recorded once (with its upstream id, or outcome_unknown from its intent at
        // its worst case); nothing invented; no request twice (no retries happen here).
        CrashTest.AssertEveryServedCallOnce(fake, records, "crash under load");
        var recordedIds = records.Select(record => record.RequestId).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(records.Count, recordedIds.Count);

        // Every answer the client had before the kill is in the ledger: once the flush window's (before the intent journal
        // the records still buffered at the kill were lost), now none.
        var missing = acknowledged.Where(ack => !recordedIds.Contains(ack.Key)).ToList();
        var fromIntents = records.Where(record => record.Status == LedgerStatus.OutcomeUnknown && acknowledged.ContainsKey(record.RequestId))
            .Select(record => (killedAt - acknowledged[record.RequestId]) * 1000 / Stopwatch.Frequency).Order().ToList();
        Console.WriteLine($"crash test: {acknowledged.Count} acknowledged, {records.Count} records, {missing.Count} acknowledged answers lost, "
            + $"{fromIntents.Count} acknowledged answers recorded from their intents{(fromIntents.Count == 0 ? "" : $" (answered {string.Join(", ", fromIntents.Select(ms => $"{ms} ms"))} before the kill returned)")}");
        Assert.True(acknowledged.Count >= AnsweredBeforeKill, $"only {acknowledged.Count} answers before the kill");
        Assert.Empty(missing);

        // Budgets: no hold of the dead process is left, and the spend is the ledger's to the nano-dollar (the settlement
        // rides in the ledger's transaction, and a reclaimed hold is charged the rows reconciled for it).
        var usage = await store.Budgets.GetUsageAsync(key.Info.BudgetScope, BudgetWindow.Total, DateTimeOffset.UtcNow);
        Assert.Equal(0m, usage.ReservedUsd);
        Assert.Equal(records.Sum(record => record.Cost?.Total ?? 0m), usage.SpentUsd);
    }
}
