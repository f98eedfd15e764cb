using System.Net;
using FakeAnthropic;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Cli;

/// <summary>
/// <c>modelmix serve</c> as a real process: start-up without a key, graceful stop, and kill -9 — on the crash harness's
/// store (<see cref="CrashStore"/>) and steps (<see cref="CrashTest"/>).
/// </summary>
public sealed class ServeProcessTests
{
    private const string Body = """{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"Tag this ticket."}]}""";

    [Fact]
    public async Task Serve_without_an_api_key_starts_says_so_once_and_flushes_on_sigterm()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        await using var store = CrashStore.Sqlite();
        await using var serve = await store.StartServeAsync(fake.BaseUrl, apiKey: null);
        using var http = new HttpClient { BaseAddress = serve.Url };

        using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json(Body));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("authentication_error", (await ProxyValidationTests.ReadErrorAsync(response)).Type);
        await serve.TerminateAsync();

        Assert.Equal(0, serve.ExitCode);
        Assert.Single(serve.Output, line => line.Contains("No upstream API key is set", StringComparison.Ordinal));
        var record = Assert.Single(await store.ReadRowsAsync());
        Assert.Equal(401, record.HttpStatus);
        Assert.Equal("authentication_error", record.ErrorType);
    }

    [Fact]
    public async Task Sigterm_while_the_ledger_waits_on_a_lock_exits_within_its_stop_timeout_and_says_what_it_did_not_commit()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        await using var store = await CrashStore.PostgresAsync("stopbound");
        await store.LedgerAsync(); // migrated before serve starts
        await using var serve = await store.StartServeAsync(fake.BaseUrl, new Dictionary<string, string> { ["ModelMix__Ledger__StopTimeout"] = "00:00:02" });

        // Another connection holds a lock the ledger batch needs (its hourly rollups), until the end of the test.
        await using var locker = new Npgsql.NpgsqlConnection(store.Target);
        await locker.OpenAsync();
        await using var transaction = await locker.BeginTransactionAsync();
        await using (var take = new Npgsql.NpgsqlCommand("LOCK TABLE ledger_rollups IN EXCLUSIVE MODE;", locker, transaction))
        {
            await take.ExecuteNonQueryAsync();
        }

        using var http = new HttpClient { BaseAddress = serve.Url };
        http.DefaultRequestHeaders.Add("anthropic-version", "2023-06-01");
        using (var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json(Body)))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // The record's batch is waiting on the lock (a condition, not a timer). Watched from a connection of its own:
        // inside the locker's transaction PostgreSQL shows the sessions that existed at the transaction's first look at
        // pg_stat_activity only, so a writer connection opened after it was never seen (CI, 2026-12-07: 90 s timeout).
        await using (var watcher = new Npgsql.NpgsqlConnection(store.Target))
        {
            await watcher.OpenAsync();
            await CrashTest.WaitUntilAsync(
                async () =>
                {
                    await using var look = new Npgsql.NpgsqlCommand("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database();", watcher);
                    return (long)(await look.ExecuteScalarAsync())! > 0;
                },
                "the ledger batch to wait on the lock");
        }

        // Without the bound, the stop waited for that commit (retried forever): TerminateAsync gave up after 60 s. With
        // the ledger's disposal bounded but the proxy's flush before it not, the stop took the host's 30 s shutdown
        // timeout plus the 2 s. One StopTimeout in all (2 s) plus the process's own start and stop: well under 20 s.
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await serve.TerminateAsync();
        Assert.True(serve.HasExited);
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(20), $"the stop took {stopping.Elapsed}, more than its 2 s StopTimeout allows");
        Assert.Single(serve.Output, line => line.Contains("without committing 1 record(s) and 0 budget settlement(s)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Kill_9_loses_no_committed_record_and_the_store_reopens_with_the_same_totals()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        await using var store = CrashStore.Sqlite();
        const int requests = 25;
        LedgerTotals before;
        await using (var serve = await store.StartServeAsync(fake.BaseUrl, CrashTest.Settings()))
        {
            using var http = new HttpClient { BaseAddress = serve.Url };
            await Parallel.ForAsync(0, requests, async (_, token) =>
            {
                using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json(Body), token);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            });

            // Every answered request is committed within the flush window (100 ms by default); wait for it, then kill -9.
            await CrashTest.WaitUntilAsync(async () => (await store.TotalsAsync()).Count >= requests, $"the {requests} answers' records to be committed");
            before = await store.TotalsAsync();
            Assert.Equal(requests, before.Count);
            await serve.KillAsync();
            Assert.NotEqual(0, serve.ExitCode);
        }

        await using (var restarted = await store.StartServeAsync(fake.BaseUrl, CrashTest.Settings()))
        {
            var after = await store.TotalsAsync();
            Assert.Equal(before.Count, after.Count);
            Assert.Equal(before.TotalCost, after.TotalCost);
            // 25 × Haiku 4.5 answers of 19 input / 33 output tokens at $1 / $5 per million:
            // 19 × 1/1e6 + 33 × 5/1e6 = 0.000019 + 0.000165 = 0.000184 each; 25 × 0.000184 = 0.0046.
            Assert.Equal(0.0046m, after.TotalCost);

            using var http = new HttpClient { BaseAddress = restarted.Url };
            using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json(Body));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

            // The dead process left nothing to reconcile: every attempt it made had its record committed.
            await store.WaitUntilReconciledAsync();
            await restarted.TerminateAsync();
        }

        var rows = await store.ReadRowsAsync();
        Assert.Equal(requests + 1, rows.Count);
        CrashTest.AssertEveryServedCallOnce(fake, rows, "quiet kill -9");
        Assert.DoesNotContain(rows, row => row.Status == LedgerStatus.OutcomeUnknown);
    }
}
