using System.Diagnostics;
using System.Net;
using System.Text;
using FakeAnthropic;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Cli;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Tests.Shared;

namespace ModelMix.IntegrationTests.Budgets;

/// <summary>
/// The PostgreSQL budgeted hot-key stall (issue 29, docs/performance.md "The pgbudget stall"): three real
/// <c>modelmix serve</c> processes on one PostgreSQL database, one budgeted key under load on all of them. The stall
/// came from one replica whose sockets stopped (Npgsql's synchronous cancel request in a hung-up client's cancellation
/// callback deadlocked its socket event threads) while one of its reservation transactions held the key's counter row
/// between two round trips: every replica's reservations of the key then queued behind that row for good. The same
/// situation is made here without relying on that race: a replica is frozen (<c>SIGSTOP</c>) in the middle of its
/// load, several times, and each time the other two replicas must go on answering the key's requests. Before the fix
/// a freeze that caught a reservation between its <c>SELECT … FOR UPDATE</c> and its commit stopped them (their
/// reservations waited on the row until the frozen replica was thawed); now a reservation is one statement and no
/// row is locked across a round trip. Clients hanging up mid-reservation are part of the load. Afterwards nothing is
/// left held and the budget equals the ledger.
/// </summary>
public sealed class PostgresHotKeyStallTests
{
    private const int Replicas = 3;
    private const int HangUps = 60;
    private const int Freezes = 5;
    private const int PerFreeze = 40;

    // Failed before the reservation fix at the first freeze; after it, a freeze that caught the frozen replica's ledger batch
    // between its settlement statement and its COMMIT still stopped the others (the settlement held the key's counter row
    // across that round trip). With budget leases (issue 29) the key's requests hold against each replica's own slice, and
    // the ledger batch charges the replica's own lease row: no replica's transaction holds a row another replica waits for.
    [Fact]
    public async Task Clients_hanging_up_while_reservations_queue_on_one_hot_key_never_stall_the_replicas()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        fake.RecordRequests = false;
        var store = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("hotkey");
        CreatedApiKey key;
        await using (var keys = new PostgresKeyStore(store))
        {
            // A total cap: the spend is read after the load, on the replicas' system clock, with no day boundary to straddle.
            key = await keys.CreateAsync("hot", [BudgetCap.Parse("1000/total")]);
        }

        var environment = new Dictionary<string, string> { ["ModelMix__MaxRetries"] = "0", ["Logging__LogLevel__Default"] = "Warning", ["ModelMix__Budgets__LeaseSizeUsd"] = "1" };
        var replicas = new List<ServeProcess>();
        try
        {
            for (var i = 0; i < Replicas; i++)
            {
                replicas.Add(await ServeProcess.StartAsync(fake.BaseUrl, store, "sk-test-upstream", environment));
            }

            using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
            var clock = Stopwatch.StartNew();

            // Many requests at once on the one key, so reservations queue on its counter row; a share of the clients
            // hang up after 0-1.5 s, many while their reservation is still waiting.
            var random = new Random(29);
            var delays = Enumerable.Range(0, HangUps).Select(_ => random.Next(0, 1500)).ToArray();
            await Task.WhenAll(Enumerable.Range(0, HangUps).Select(i => Task.Run(async () =>
            {
                using var hangUp = new CancellationTokenSource();
                if (i % 2 == 0)
                {
                    hangUp.CancelAfter(delays[i]);
                }

                try
                {
                    await SendAsync(http, replicas[i % Replicas].Url, key.Key, $"hang-up {i}", hangUp.Token);
                }
                catch (Exception exception) when (exception is OperationCanceledException or HttpRequestException or IOException)
                {
                    // This client hung up.
                }
            })));

            Console.WriteLine($"hot-key stall test: {HangUps} requests with hang-ups done after {clock.Elapsed.TotalSeconds:F1} s");

            // Load on replica 0 (24 clients in a loop), then freeze it mid-load and ask the other two replicas for the key's
            // requests: each must be answered while replica 0 stays frozen. The wait is generous (the machine may be
            // loaded); a replica blocked behind the frozen one's row lock answers nothing until the thaw.
            using var stopLoad = new CancellationTokenSource();
            var load = Enumerable.Range(0, 24).Select(i => Task.Run(async () =>
            {
                for (var n = 0; !stopLoad.IsCancellationRequested; n++)
                {
                    try
                    {
                        await SendAsync(http, replicas[0].Url, key.Key, $"load {i}.{n}", stopLoad.Token);
                    }
                    catch (Exception exception) when (exception is OperationCanceledException or HttpRequestException or IOException)
                    {
                    }
                }
            })).ToList();
            try
            {
                for (var freeze = 0; freeze < Freezes; freeze++)
                {
                    await Task.Delay(300 + (100 * freeze)); // let replica 0's load reach the key's row (not a timing assertion)
                    Signal("STOP", replicas[0].ProcessId);
                    try
                    {
                        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                        var statuses = await Task.WhenAll(Enumerable.Range(0, PerFreeze).Select(i =>
                            SendAsync(http, replicas[1 + (i % 2)].Url, key.Key, $"frozen {freeze}.{i}", patience.Token)));
                        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
                    }
                    catch (OperationCanceledException exception)
                    {
                        throw new Xunit.Sdk.XunitException($"freeze {freeze + 1}: the other replicas answered nothing for 60 s while replica 0 was frozen: {exception.Message}");
                    }
                    finally
                    {
                        Signal("CONT", replicas[0].ProcessId);
                    }

                    Console.WriteLine($"hot-key stall test: freeze {freeze + 1} of {Freezes}: {PerFreeze} requests answered by the other replicas after {clock.Elapsed.TotalSeconds:F1} s");
                }
            }
            finally
            {
                await stopLoad.CancelAsync();
                await Task.WhenAll(load);
            }
        }
        finally
        {
            foreach (var replica in replicas)
            {
                try
                {
                    await replica.TerminateAsync(); // a graceful stop settles what is still held
                }
                catch (OperationCanceledException)
                {
                    // A stalled replica does not stop within 30 s: killed below; the assertions above already failed.
                }

                await replica.DisposeAsync();
            }
        }

        // A lease a sweep reclaimed under load (a frozen or starved replica missed its renewals) keeps its unspent slice
        // held for one more lease life for late records (docs/keys-and-budgets.md, "Budget leases"); one a replica left
        // expiring at stop is reclaimed once its life ends. The replicas are gone, so these are the sweeps that would run
        // next: one after every lease's life (default LeaseTtl, 30 s), one after the tails it kept.
        await using (var sweep = new PostgresBudgetStore(store))
        {
            var now = DateTimeOffset.UtcNow;
            await sweep.ReconcileExpiredAsync(now + TimeSpan.FromSeconds(31));
            await sweep.ReconcileExpiredAsync(now + TimeSpan.FromSeconds(62));
        }

        // Every hold was settled or released, and the key's spend is exactly what the ledger recorded for it.
        await using var ledger = new PostgresLedgerStore(store);
        await ledger.MigrateAsync();
        await using var budgets = new PostgresBudgetStore(store);
        var recorded = 0m;
        await foreach (var record in ledger.ReadAsync(new LedgerQuery()))
        {
            recorded += record.KeyId == key.Info.Id ? record.Cost?.Total ?? 0m : 0m;
        }

        var usage = await budgets.GetUsageAsync(key.Info.BudgetScope, BudgetWindow.Total, DateTimeOffset.UtcNow);
        Assert.Equal(0m, usage.ReservedUsd);
        Assert.Equal(recorded, usage.SpentUsd);
        Assert.True(recorded > 0m);
    }

    private static void Signal(string signal, int processId)
    {
        using var kill = Process.Start("kill", [$"-{signal}", processId.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    private static async Task<HttpStatusCode> SendAsync(HttpClient http, Uri replica, string key, string tag, CancellationToken token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(replica, "v1/messages"))
        {
            Content = new StringContent($$"""{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"{{tag}}"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-api-key", key);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await http.SendAsync(request, token);
        await response.Content.ReadAsStringAsync(token);
        return response.StatusCode;
    }
}
