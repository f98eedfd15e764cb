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
using Npgsql;

namespace ModelMix.IntegrationTests.Support;

/// <summary>
/// The store a <c>kill -9</c> test runs <c>modelmix serve</c> on — a SQLite file in a temp folder or a fresh database
/// on the test run's PostgreSQL — with what every such test reads back from it: keys, the ledger's rows and pending
/// intents, the budgets, the open holds and leases.
/// </summary>
internal sealed class CrashStore : IAsyncDisposable
{
    private readonly TempDirectory? _dir;
    private ILedgerStore? _ledger;
    private IBudgetStore? _budgets;

    private CrashStore(string target, TempDirectory? dir)
    {
        Target = target;
        _dir = dir;
    }

    /// <summary>What <c>modelmix serve --db</c> gets: the SQLite file's path or the Npgsql connection string.</summary>
    public string Target { get; }

    public bool IsPostgres => _dir is null;

    /// <summary>A SQLite file in a new temp folder (deleted on dispose).</summary>
    public static CrashStore Sqlite()
    {
        var dir = new TempDirectory();
        return new CrashStore(Path.Combine(dir.Path, "ledger.db"), dir);
    }

    /// <summary>A new database on the test run's PostgreSQL (<see cref="PostgresServer"/>).</summary>
    public static async Task<CrashStore> PostgresAsync(string prefix) =>
        new(await (await PostgresServer.GetAsync()).CreateDatabaseAsync(prefix), null);

    /// <summary>SQLite or PostgreSQL by name, for a theory over both.</summary>
    public static async Task<CrashStore> OpenAsync(bool postgres, string prefix) => postgres ? await PostgresAsync(prefix) : Sqlite();

    /// <summary>Creates a virtual key with <paramref name="caps"/> (e.g. <c>10/total</c>).</summary>
    public async Task<CreatedApiKey> CreateKeyAsync(string name, params string[] caps)
    {
        await using IKeyStore keys = IsPostgres ? new PostgresKeyStore(Target) : new SqliteKeyStore(Target);
        return await keys.CreateAsync(name, [.. caps.Select(BudgetCap.Parse)]);
    }

    /// <summary>
    /// Starts <c>modelmix serve</c> on this store over <paramref name="upstream"/> with <paramref name="settings"/> (none:
    /// the defaults) and the upstream key <paramref name="apiKey"/> (null: none set).
    /// </summary>
    public Task<ServeProcess> StartServeAsync(Uri upstream, IReadOnlyDictionary<string, string>? settings = null, string? apiKey = "sk-test-upstream") =>
        ServeProcess.StartAsync(upstream, Target, apiKey, settings);

    /// <summary>The ledger's totals (count and cost) over every row.</summary>
    public async Task<LedgerTotals> TotalsAsync() => await (await LedgerAsync()).GetTotalsAsync(new LedgerQuery());

    /// <summary>The ledger store (opened and migrated on first use, kept until dispose).</summary>
    public async Task<ILedgerStore> LedgerAsync()
    {
        if (_ledger is null)
        {
            ILedgerStore ledger = IsPostgres ? new PostgresLedgerStore(Target) : new SqliteLedgerStore(Target);
            await ledger.MigrateAsync();
            _ledger = ledger;
        }

        return _ledger;
    }

    /// <summary>The budget store (kept until dispose).</summary>
    public IBudgetStore Budgets => _budgets ??= IsPostgres ? new PostgresBudgetStore(Target) : new SqliteBudgetStore(Target);

    /// <summary>Intents not yet completed or reconciled.</summary>
    public async Task<long> CountIntentsAsync() => await ((IAttemptJournalStore)await LedgerAsync()).CountIntentsAsync();

    /// <summary>Every ledger row, in timestamp order.</summary>
    public async Task<List<LedgerRecord>> ReadRowsAsync()
    {
        var rows = new List<LedgerRecord>();
        await foreach (var record in (await LedgerAsync()).ReadAsync(new LedgerQuery()))
        {
            rows.Add(record);
        }

        return rows;
    }

    /// <summary>Whether any budget hold (a request's reservation or a lease) is not yet settled or reclaimed.</summary>
    public async Task<bool> OpenHoldsAsync() => await ScalarAsync("SELECT COUNT(*) FROM budget_reservations WHERE reclaimed_at IS NULL;") > 0;

    /// <summary>Open budget leases (<c>lse_…</c> holds not yet reclaimed).</summary>
    public Task<long> OpenLeasesAsync() => ScalarAsync("SELECT COUNT(*) FROM budget_reservations WHERE id LIKE 'lse!_%' ESCAPE '!' AND reclaimed_at IS NULL;");

    /// <summary>The request ids of the budget reservations still stored (reclaimed ones included).</summary>
    public async Task<HashSet<string>> ReservedRequestIdsAsync()
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        await ReadAsync("SELECT request_id FROM budget_reservations;", value => ids.Add((string)value));
        return ids;
    }

    /// <summary>Waits until the dead process's intents are reconciled and every budget hold is settled or reclaimed.</summary>
    public Task WaitUntilReconciledAsync() =>
        CrashTest.WaitUntilAsync(async () => await CountIntentsAsync() == 0 && !await OpenHoldsAsync(), "the dead process's intents and holds to be reconciled");

    public async ValueTask DisposeAsync()
    {
        if (_ledger is IAsyncDisposable ledger)
        {
            await ledger.DisposeAsync();
        }

        if (_budgets is IAsyncDisposable budgets)
        {
            await budgets.DisposeAsync();
        }

        if (!IsPostgres)
        {
            SqliteConnection.ClearAllPools();
        }

        _dir?.Dispose();
    }

    private async Task<long> ScalarAsync(string sql)
    {
        long count = 0;
        await ReadAsync(sql, value => count = Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
        return count;
    }

    private async Task ReadAsync(string sql, Action<object> row)
    {
        if (IsPostgres)
        {
            await using var connection = new NpgsqlConnection(Target);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                row(reader.GetValue(0));
            }

            return;
        }

        await using var sqlite = new SqliteConnection($"Data Source={Target};Pooling=False");
        await sqlite.OpenAsync();
        await using var read = sqlite.CreateCommand();
        read.CommandText = sql;
        await using var rows = await read.ExecuteReaderAsync();
        while (await rows.ReadAsync())
        {
            row(rows.GetValue(0));
        }
    }
}

/// <summary>
/// The steps the <c>kill -9</c> tests share: a tagged request through a replica, calls held open by the fake upstream
/// until a replica is killed, waiting on a condition (never on a timer), and the check that every call the fake served
/// is in the ledger exactly once.
/// </summary>
internal static class CrashTest
{
    /// <summary>
    /// The intent journal's timing for a test: heartbeats every 200 ms, a process judged dead after 2 s, sweeps every
    /// 200 ms, budget sweeps every second, no proxy retries; <paramref name="extra"/> added (or overriding).
    /// </summary>
    public static Dictionary<string, string> Settings(params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string>
        {
            ["ModelMix__Budgets__SweepInterval"] = "00:00:01",
            ["ModelMix__Intents__HeartbeatInterval"] = "00:00:00.200",
            ["ModelMix__Intents__StaleAfter"] = "00:00:02",
            ["ModelMix__Intents__SweepInterval"] = "00:00:00.200",
            ["ModelMix__MaxRetries"] = "0",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>Polls <paramref name="condition"/> every 100 ms; fails after <paramref name="seconds"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, int seconds = 90)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(seconds), "timed out waiting for " + what);
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// One <c>POST /v1/messages</c> to <paramref name="replica"/> with <paramref name="key"/>, the prompt
    /// <paramref name="tag"/>; returns the status and the whole body (a stream read to its end).
    /// </summary>
    public static async Task<(HttpStatusCode Status, string Body)> SendAsync(
        HttpClient http, Uri replica, string key, string tag, string model = "claude-haiku-4-5", bool streaming = false, int maxTokens = 64, bool streamField = true, CancellationToken token = default)
    {
        var reply = await SendForReplyAsync(http, replica, key, tag, model, streaming, maxTokens, streamField, token);
        return (reply.Status, reply.Body);
    }

    /// <summary>
    /// <see cref="SendAsync"/>, answered with the proxy's request id (<c>x-modelmix-request-id</c>) and whether the
    /// client had the whole answer.
    /// </summary>
    public static async Task<CrashReply> SendForReplyAsync(
        HttpClient http, Uri replica, string key, string tag, string model = "claude-haiku-4-5", bool streaming = false, int maxTokens = 64, bool streamField = true, CancellationToken token = default)
    {
        var stream = streamField ? $$""","stream":{{(streaming ? "true" : "false")}}""" : "";
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(replica, "v1/messages"))
        {
            Content = new StringContent(
                $$"""{"model":"{{model}}","max_tokens":{{maxTokens}}{{stream}},"messages":[{"role":"user","content":"{{tag}}"}]}""",
                Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Add("x-api-key", key);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
        var body = await response.Content.ReadAsStringAsync(token);
        var id = response.Headers.TryGetValues("x-modelmix-request-id", out var ids) ? ids.First() : null;
        return new CrashReply(response.StatusCode, body, id, streaming && streamField);
    }

    /// <summary>
    /// Sends <paramref name="count"/> requests (<paramref name="send"/>, given the index and a token the kill cancels)
    /// while <paramref name="hold"/> has the fake hold calls open until a release task completes; once the fake has
    /// served <paramref name="servedBeforeKill"/> calls, kills <paramref name="victim"/>, releases the held calls,
    /// runs <paramref name="restore"/> (the fake's normal answers) and waits for the requests to end (cut or answered).
    /// </summary>
    public static async Task HoldAndKillAsync(
        FakeAnthropicServer fake, ServeProcess victim, int count, Func<int, CancellationToken, Task> send, Action<Task> hold, Action restore, int servedBeforeKill)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        hold(release.Task);
        using var cut = new CancellationTokenSource();
        var held = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            try
            {
                await send(i, cut.Token);
            }
            catch (Exception exception) when (exception is HttpRequestException or IOException or OperationCanceledException)
            {
                // The kill cut it.
            }
        })).ToList();
        await WaitUntilAsync(() => Task.FromResult(fake.ServedMessages.Count >= servedBeforeKill), "the held calls to reach the fake");

        await victim.KillAsync();
        release.TrySetResult();
        restore();
        await cut.CancelAsync();
        await Task.WhenAll(held);
    }

    /// <summary>
    /// <see cref="HoldAndKillAsync(FakeAnthropicServer, ServeProcess, int, Func{int, CancellationToken, Task}, Action{Task}, Action, int)"/>
    /// with the fake's default answer held.
    /// </summary>
    public static Task HoldAndKillAsync(FakeAnthropicServer fake, ServeProcess victim, int count, Func<int, CancellationToken, Task> send, int servedBeforeKill) =>
        HoldAndKillAsync(fake, victim, count, send, release => fake.SetDefault(FakeReply.Default.WithHold(release)), () => fake.SetDefault(FakeReply.Default), servedBeforeKill);

    /// <summary>
    /// The crash guarantee (docs/ledger.md, "Crash consistency"): every upstream request id recorded is one call the
    /// fake served, recorded once; every other row is an <c>outcome_unknown</c> row from an intent, and there are at
    /// least as many of those as served calls without a row of their own; every <c>outcome_unknown</c> row is charged
    /// its worst case. A kill between an attempt's intent and its request reaching the upstream leaves an
    /// <c>outcome_unknown</c> row for a call nobody served (charged, never lost: the documented direction), so rows may
    /// exceed calls served by such rows only. Returns how many rows were matched by upstream id and how many are
    /// <c>outcome_unknown</c>, printed under <paramref name="label"/> with the rows beyond the calls served.
    /// </summary>
    public static (int Matched, int Unknown) AssertEveryServedCallOnce(FakeAnthropicServer fake, IReadOnlyList<LedgerRecord> rows, string label)
    {
        var served = fake.ServedMessages.Select(message => message.RequestId).ToList();
        var byUpstream = rows.Where(row => row.UpstreamRequestId is not null).GroupBy(row => row.UpstreamRequestId!).ToDictionary(group => group.Key, group => group.Count());
        var unknown = rows.Where(row => row.Status == LedgerStatus.OutcomeUnknown).ToList();
        var matched = served.Count(byUpstream.ContainsKey);
        Console.WriteLine($"{label}: {served.Count} calls served, {rows.Count} ledger rows ({matched} matched by upstream request id, {unknown.Count} outcome_unknown from intents; {rows.Count - served.Count} rows beyond the calls served)");

        Assert.All(byUpstream, pair => Assert.True(pair.Value == 1 && served.Contains(pair.Key), $"upstream id {pair.Key}: {pair.Value} rows"));
        Assert.Equal(rows.Count, byUpstream.Count + unknown.Count); // nothing else: a row is a served call or an intent's outcome_unknown
        Assert.True(unknown.Count >= served.Count - matched, $"{served.Count - matched} served calls have no row by upstream id but only {unknown.Count} rows are outcome_unknown");
        Assert.All(unknown, row => Assert.True(row.UsageEstimated && row.Cost is { Total: > 0m }, $"{row.Policy} row on {row.RoutedModel} is not charged its worst case"));
        return (matched, unknown.Count);
    }
}

/// <summary>An answer to <see cref="CrashTest.SendForReplyAsync"/>: status, whole body, the proxy's request id.</summary>
internal sealed record CrashReply(HttpStatusCode Status, string Body, string? RequestId, bool Streaming)
{
    /// <summary>
    /// Whether the client had the whole answer: 200 and, for a stream, its <c>message_stop</c> without an error event;
    /// otherwise a body with its usage.
    /// </summary>
    public bool Complete => Status == HttpStatusCode.OK
        && (Streaming
            ? Body.Contains("event: message_stop", StringComparison.Ordinal) && !Body.Contains("event: error", StringComparison.Ordinal)
            : Body.Contains("\"usage\"", StringComparison.Ordinal));
}
