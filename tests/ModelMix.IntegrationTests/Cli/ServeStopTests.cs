using System.Diagnostics;
using System.Net;
using FakeAnthropic;
using ModelMix.IntegrationTests.Support;
using Npgsql;

namespace ModelMix.IntegrationTests.Cli;

/// <summary>
/// <c>modelmix serve</c>'s stop (SIGTERM) when a step of it waits on the database: it ends within its bounds and says
/// what it gave up, instead of hanging (docs/ledger.md, "Durability").
/// </summary>
public sealed class ServeStopTests
{
    private const string Body = """{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"Held by the lock."}]}""";

    [Fact]
    public async Task Sigterm_while_an_attempt_intent_waits_on_a_lock_exits_within_the_stop_timeout_and_says_what_it_gave_up()
    {
        await using var fake = await FakeAnthropicServer.StartAsync();
        await using var store = await CrashStore.PostgresAsync("stopintent");
        await store.LedgerAsync(); // migrated before serve starts: the lock below needs the table
        await using var serve = await store.StartServeAsync(fake.BaseUrl, new Dictionary<string, string>
        {
            ["ModelMix__Ledger__StopTimeout"] = "00:00:02",
            // The host's shutdown timeout (30 s by default): how long Kestrel waits for the request held below.
            ["DOTNET_shutdownTimeoutSeconds"] = "3",
        });

        // Another connection holds the intent table until the end of the test: the request's intent (written before
        // anything is sent upstream) waits on it.
        await using var locker = new NpgsqlConnection(store.Target);
        await locker.OpenAsync();
        await using var transaction = await locker.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand("LOCK TABLE ledger_intents IN ACCESS EXCLUSIVE MODE;", locker, transaction))
        {
            await take.ExecuteNonQueryAsync();
        }

        using var http = new HttpClient { BaseAddress = serve.Url, Timeout = TimeSpan.FromMinutes(3) };
        http.DefaultRequestHeaders.Add("anthropic-version", "2023-06-01");
        using var cut = new CancellationTokenSource();
        var request = Task.Run(async () =>
        {
            try
            {
                using var response = await http.PostAsync("v1/messages", Proxy.ProxyValidationTests.Json(Body), cut.Token);
                return response.StatusCode;
            }
            catch (Exception exception) when (exception is HttpRequestException or IOException or OperationCanceledException)
            {
                return (HttpStatusCode)0; // the stop cut it
            }
        });

        await using (var watcher = new NpgsqlConnection(store.Target))
        {
            await watcher.OpenAsync();
            await CrashTest.WaitUntilAsync(
                async () =>
                {
                    await using var look = new NpgsqlCommand("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database();", watcher);
                    return (long)(await look.ExecuteScalarAsync())! > 0;
                },
                "the request's intent to wait on the lock");
        }

        // Without the bound, the journal's disposal waited for that write, which waits on the lock as long as it is
        // held: TerminateAsync gave up after 60 s. With it: the host's 3 s, then one 2 s StopTimeout, plus the process's
        // own stop.
        var stopping = Stopwatch.StartNew();
        await serve.TerminateAsync();
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(25), $"the stop took {stopping.Elapsed}");
        Assert.Single(serve.Output, line => line.Contains("intent journal stopped without waiting for 1 intent(s)", StringComparison.Ordinal));
        // Kestrel's wait for the held request used up the host's 3 s: the ledger's flush before the stop then gave way
        // instead of failing the stop, which made serve exit with an unhandled OperationCanceledException (code 1).
        Assert.Equal(0, serve.ExitCode);

        await cut.CancelAsync();
        Assert.NotEqual(HttpStatusCode.OK, await request); // never sent upstream: its intent was not durable
        Assert.Empty(fake.ServedMessages);
    }
}
