using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// A busy or unreachable database slows requests or answers them 503 <c>overloaded_error</c> with <c>retry-after</c> and
/// a request id — never 500 (issue 28). A real proxy over a real PostgreSQL role whose <c>CONNECTION LIMIT</c> is half its
/// pool's <c>Maximum Pool Size</c>, as three replicas with Npgsql's default pool of 100 were against
/// <c>max_connections = 200</c>: the server refuses connections (53300) under load.
/// </summary>
public sealed class DatabaseOverloadTests : IAsyncLifetime
{
    // The role may hold 4 connections; the proxy's pool may open 8, one of which the batch leader keeps.
    private const int RoleConnectionLimit = 4;
    private const int PoolSize = 8;

    // Haiku 4.5 at $1 / $5 per MTok; the default fixture answers 19 input and 33 output tokens:
    // 19 × $1/1e6 + 33 × $5/1e6 = $0.000019 + $0.000165 = $0.000184 per answered request.
    private const decimal FixtureCost = 0.000184m;

    private const string Body = """{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""";
    private const string ChatBody = """{"model":"claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""";

    private readonly string _role = "mmx_small_" + Guid.NewGuid().ToString("N")[..12];
    private string _admin = string.Empty; // a superuser, on the test's database
    private string _store = string.Empty; // the limited role, on the same database
    private ProxyHarness? _harness;

    public async Task InitializeAsync()
    {
        _admin = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("overload");
        var database = new NpgsqlConnectionStringBuilder(_admin).Database!;
        // The role owns the database, so it creates ModelMix's tables itself (PostgreSQL 15+ lets only the owner create in public).
        await ExecuteAsync($"CREATE ROLE \"{_role}\" LOGIN PASSWORD 'overload-test' CONNECTION LIMIT {RoleConnectionLimit}; ALTER DATABASE \"{database}\" OWNER TO \"{_role}\";");
        _store = new NpgsqlConnectionStringBuilder(_admin)
        {
            Username = _role,
            Password = "overload-test",
            MaxPoolSize = PoolSize,
            Timeout = 2, // how long a request waits for a connection before its 503
        }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        if (_harness is not null)
        {
            await _harness.DisposeAsync();
        }

        try
        {
            var database = new NpgsqlConnectionStringBuilder(_admin).Database!;
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_admin) { Database = "postgres", Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE); DROP ROLE IF EXISTS \"{_role}\";", connection);
            await command.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // A throwaway cluster goes with the test run anyway.
        }
    }

    [Fact]
    public async Task Three_times_the_pool_in_concurrent_requests_gets_no_500_and_a_lost_database_gets_503_overloaded_with_retry_after_and_a_request_id()
    {
        var key = await CreateKeyAsync(new BudgetCap(BudgetWindow.Total, 10m));
        _harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:Store"] = _store;
            settings["ModelMix:MetricsRequireAdminKey"] = "false"; // /metrics is read below while the database is gone: no key can be checked
            // Every request checks its key in the database (no key cache), so the first store step each request takes,
            // and the operation its failure is counted under (keys.authenticate, asserted below), does not depend on timing.
            settings["ModelMix:Keys:RecheckInterval"] = "00:00:00";
        });
        using var http = _harness.Http();

        // 1. Overload: three times the pool size in concurrent requests, twice. The server refuses connections past the
        // role's limit; requests wait for one (up to Timeout) instead of failing. None may be a 500.
        var answers = new List<Answer>();
        for (var round = 0; round < 2; round++)
        {
            answers.AddRange(await Task.WhenAll(Enumerable.Range(0, 3 * PoolSize).Select(_ => PostAsync(http, "v1/messages", Body, key.Key))));
        }

        Assert.True(answers.All(a => a.Status is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable), Describe(answers));
        Assert.All(answers.Where(a => a.Status == HttpStatusCode.ServiceUnavailable), AssertOverloaded);
        var answered = answers.Count(a => a.Status == HttpStatusCode.OK);
        Assert.True(answered > 0, Describe(answers));

        // At start the replica compared its pool with what the server allows the role, and said it does not fit.
        Assert.Contains(_harness.Logs.Lines, line => line.Contains($"Maximum Pool Size {PoolSize} = {PoolSize}, but the server allows this role only {RoleConnectionLimit}", StringComparison.Ordinal)
            && line.Contains("the role's CONNECTION LIMIT", StringComparison.Ordinal));

        await WaitForSettlesAsync(key.Id); // so no hold is being settled when the database goes (that one would wait for its TTL)

        // 2. The database is lost: the role may open no connection, and the ones it had are ended by the server
        // (as in a failover). Every request is answered 503 overloaded_error after the connection wait, in its API's shape.
        await ExecuteAsync($"ALTER ROLE \"{_role}\" CONNECTION LIMIT 0; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{_role}';");
        var lost = await Task.WhenAll(
            Enumerable.Range(0, 4).Select(_ => PostAsync(http, "v1/messages", Body, key.Key))
                .Concat(Enumerable.Range(0, 2).Select(_ => PostAsync(http, "v1/chat/completions", ChatBody, key.Key))));
        Assert.All(lost, AssertOverloaded);
        Assert.Equal(4, lost.Count(a => a.Path == "v1/messages"));

        var metrics = await http.GetStringAsync("metrics");
        var counted = metrics.Split('\n')
            .Where(line => line.StartsWith("modelmix_store_unavailable_total{", StringComparison.Ordinal))
            .Sum(line => long.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(answers.Count(a => a.Status == HttpStatusCode.ServiceUnavailable) + lost.Length, counted);
        Assert.Contains("operation=\"keys.authenticate\"", metrics, StringComparison.Ordinal);

        // 3. The database is back: requests are answered again (a pooled connection the server ended may fail one
        // more request, with a 503, before the pool replaces it).
        await ExecuteAsync($"ALTER ROLE \"{_role}\" CONNECTION LIMIT {RoleConnectionLimit};");
        Answer? recovered = null;
        for (var attempt = 0; attempt < 10 && recovered?.Status != HttpStatusCode.OK; attempt++)
        {
            recovered = await PostAsync(http, "v1/messages", Body, key.Key);
            Assert.True(recovered.Status is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, Describe([recovered]));
        }

        Assert.Equal(HttpStatusCode.OK, recovered!.Status);
        answered++;

        // No money leaked: every upstream call is in the ledger, and the budget charged exactly what the ledger shows.
        await _harness.Ledger.FlushAsync();
        await using var ledger = new PostgresLedgerStore(_admin);
        await ledger.MigrateAsync();
        var totals = await ledger.GetTotalsAsync(new LedgerQuery { KeyId = key.Id });
        Assert.Equal(answered, _harness.Fake.MessageCount);
        Assert.Equal(answered, totals.Count);
        Assert.Equal(answered * FixtureCost, totals.TotalCost);

        // A settlement that could not get a connection in time (on a loaded machine some do) leaves its hold for the sweep,
        // which reclaims it once expired and charges it what the ledger recorded for its request: do now what the
        // sweep does after the 15-minute TTL.
        var usage = await WaitForSettlesAsync(key.Id);
        if (usage.ReservedUsd != 0m)
        {
            Assert.Contains(_harness.Logs.Lines, line => line.Contains("could not be settled", StringComparison.Ordinal));
            await using var sweep = new PostgresBudgetStore(_admin);
            Assert.True(await sweep.ReconcileExpiredAsync(DateTimeOffset.UtcNow.AddMinutes(16)) > 0);
            usage = await WaitForSettlesAsync(key.Id);
        }

        Assert.Equal(0m, usage.ReservedUsd);
        Assert.Equal(totals.TotalCost, usage.SpentUsd);
    }

    [Fact]
    public async Task A_store_error_that_is_not_transient_is_a_500_with_a_request_id_in_the_clients_shape()
    {
        var key = await CreateKeyAsync(new BudgetCap(BudgetWindow.Total, 10m));
        _harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:Store"] = _store);
        using var http = _harness.Http();
        await ExecuteAsync("ALTER TABLE api_keys RENAME TO api_keys_gone;"); // 42P01 undefined_table: a bug, not a busy database

        var anthropic = await PostAsync(http, "v1/messages", Body, key.Key);
        var openAi = await PostAsync(http, "v1/chat/completions", ChatBody, key.Key);

        Assert.Equal(HttpStatusCode.InternalServerError, anthropic.Status);
        Assert.Equal("api_error", anthropic.Json.GetProperty("error").GetProperty("type").GetString());
        Assert.StartsWith("mmx_", anthropic.RequestIdHeader, StringComparison.Ordinal);
        Assert.Equal(anthropic.RequestIdHeader, anthropic.Json.GetProperty("request_id").GetString());
        Assert.Equal(HttpStatusCode.InternalServerError, openAi.Status);
        Assert.Equal("server_error", openAi.Json.GetProperty("error").GetProperty("type").GetString());
        Assert.StartsWith("mmx_", openAi.RequestIdHeader, StringComparison.Ordinal);
        Assert.Null(anthropic.RetryAfter);
        Assert.Contains(_harness.Logs.Lines, line => line.Contains("Unhandled error while serving /v1/messages", StringComparison.Ordinal));
        Assert.Equal(0, _harness.Fake.MessageCount);
    }

    /// <summary>A 503 <c>overloaded_error</c> with <c>retry-after</c> and a request id, in the shape of the endpoint's API.</summary>
    private static void AssertOverloaded(Answer answer)
    {
        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.Status);
        Assert.Equal("1", answer.RetryAfter);
        Assert.StartsWith("mmx_", answer.RequestIdHeader, StringComparison.Ordinal);
        var error = answer.Json.GetProperty("error");
        if (answer.Path == "v1/chat/completions")
        {
            Assert.Equal("server_error", error.GetProperty("type").GetString());
            Assert.Equal("overloaded_error", error.GetProperty("code").GetString());
        }
        else
        {
            Assert.Equal("error", answer.Json.GetProperty("type").GetString());
            Assert.Equal("overloaded_error", error.GetProperty("type").GetString());
            Assert.Equal(answer.RequestIdHeader, answer.Json.GetProperty("request_id").GetString());
        }

        Assert.Contains("database", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    private static string Describe(IEnumerable<Answer> answers) =>
        "statuses: " + string.Join(", ", answers.GroupBy(a => a.Status).Select(g => $"{(int)g.Key} x{g.Count()} ({g.First().Text[..Math.Min(200, g.First().Text.Length)]})"));

    private static async Task<Answer> PostAsync(HttpClient http, string path, string body, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("x-api-key", key);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new Answer(
            path,
            response.StatusCode,
            response.Headers.TryGetValues("x-modelmix-request-id", out var ids) ? ids.Single() : string.Empty,
            response.Headers.TryGetValues("retry-after", out var after) ? after.Single() : null,
            text);
    }

    /// <summary>The key's budget (a total one: no day boundary to straddle on the system clock) once no hold is left (a hold settles just after its answer was sent), waiting up to 10 s.</summary>
    private async Task<BudgetUsage> WaitForSettlesAsync(string keyId)
    {
        await using var budgets = new PostgresBudgetStore(_admin);
        var usage = await budgets.GetUsageAsync("key:" + keyId, BudgetWindow.Total, DateTimeOffset.UtcNow);
        for (var waited = 0; usage.ReservedUsd != 0m && waited < 100; waited++)
        {
            await Task.Delay(100);
            usage = await budgets.GetUsageAsync("key:" + keyId, BudgetWindow.Total, DateTimeOffset.UtcNow);
        }

        return usage;
    }

    private async Task<(string Id, string Key)> CreateKeyAsync(BudgetCap cap)
    {
        await using var keys = new PostgresKeyStore(_store);
        var created = await keys.CreateAsync("team-a", [cap]);
        return (created.Info.Id, created.Key);
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_admin) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private sealed record Answer(string Path, HttpStatusCode Status, string RequestIdHeader, string? RetryAfter, string Text)
    {
        public JsonElement Json => JsonDocument.Parse(Text).RootElement;
    }
}
