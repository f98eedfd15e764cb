using System.Globalization;
using Microsoft.Data.Sqlite;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Pricing;
using ModelMix.Tests.Pipeline;
using ModelMix.Tests.Postgres;
using Npgsql;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// Narrow intents (docs/ledger.md, "Crash consistency"): an intent holds what reconciliation needs, and its
/// outcome_unknown record is built and priced at reconciliation, at the price in force when the attempt started,
/// and rolled up like any row. Intents pending in the wide table of the schema before are carried over by the
/// migration and reconcile the same way (SQLite and PostgreSQL).
/// </summary>
public sealed class NarrowIntentTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Started = new(2026, 3, 1, 12, 10, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = Started.AddMinutes(5);
    private readonly TempDatabase _db = new();
    private readonly PostgresTestDatabase _pg = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        _db.Dispose();
        return PostgresTestDatabase.DeleteAsync();
    }

    /// <summary>Prices a record as the proxy does (AttemptRecorder.Price), with the 4.x test price book.</summary>
    private static LedgerRecord Price(LedgerRecord record) =>
        Recorder.Price(record);

    private static readonly AttemptRecorder Recorder = new(TestPrices.Tiers4x, new RecordingLedger());

    [Fact]
    public async Task Sqlite_an_intent_becomes_its_priced_outcome_unknown_record_and_is_rolled_up()
    {
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteIntentsAsync("dead", [NewIntent()], Started);
        Assert.Equal(1, await store.ReconcileIntentsAsync("me", Now, TimeSpan.FromSeconds(30), Price));
        await AssertReconciledAsync(store, store, "req-1", policy: "rules");
    }

    [Fact]
    public async Task Postgres_an_intent_becomes_its_priced_outcome_unknown_record_and_is_rolled_up()
    {
        await _pg.CreateAsync();
        await using var store = new PostgresLedgerStore(_pg.ConnectionString);
        await store.MigrateAsync();
        await store.WriteIntentsAsync("dead", [NewIntent()], Started);
        Assert.Equal(1, await store.ReconcileIntentsAsync("me", Now, TimeSpan.FromSeconds(30), Price));
        await AssertReconciledAsync(store, store, "req-1", policy: "rules");
    }

    [Fact]
    public async Task Sqlite_a_wide_intent_pending_before_the_migration_still_reconciles()
    {
        // The schema before the narrow step, with one wide intent of a dead instance (its stored cost is ignored: the
        // record is priced from its worst-case tokens at reconciliation).
        var narrowStep = IndexOfNarrowStep(SqliteLedgerSchema.Migrations);
        using (var connection = _db.OpenIndependentConnection())
        {
            // The rollup step's backfill sums with the store's decimal aggregate (nothing to sum here).
            connection.CreateAggregate<string?, decimal, string>("modelmix_decimal_sum", 0m, static (sum, text) => text is null ? sum : sum + SqliteLedgerSchema.FromStoredDecimal(text), static sum => SqliteLedgerSchema.ToStoredDecimal(sum), isDeterministic: true);
            for (var i = 0; i < narrowStep; i++)
            {
                using var step = connection.CreateCommand();
                step.CommandText = SqliteLedgerSchema.Migrations[i] + $"\nPRAGMA user_version = {(i + 1).ToString(CultureInfo.InvariantCulture)};";
                step.ExecuteNonQuery();
            }

            using var command = connection.CreateCommand();
            command.CommandText = WideIntentSql(Started, "'standard'", "1", "0", "'0.5'");
            command.ExecuteNonQuery();
            command.CommandText = "PRAGMA user_version;";
            Assert.Equal((long)narrowStep, (long)command.ExecuteScalar()!);
        }

        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        Assert.Equal(1, await store.CountIntentsAsync());
        Assert.Equal(1, await store.ReconcileIntentsAsync("me", Now, TimeSpan.FromSeconds(30), Price));
        await AssertReconciledAsync(store, store, "req-wide", policy: "rules");
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task Postgres_a_wide_intent_pending_before_the_migration_still_reconciles()
    {
        await _pg.CreateAsync();
        var steps = PostgresLedgerStore.MigrationSteps;
        await using (var database = new PostgresDatabase(_pg.ConnectionString))
        {
            await database.MigrateAsync(PostgresLedgerStore.Component, steps.Take(IndexOfNarrowStep(steps)).ToList(), CancellationToken.None);
        }

        await using (var connection = new NpgsqlConnection(_pg.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(WideIntentSql(Started, "'standard'", "true", "false", "0.5"), connection);
            await command.ExecuteNonQueryAsync();
        }

        await using var store = new PostgresLedgerStore(_pg.ConnectionString);
        await store.MigrateAsync();
        Assert.Equal(1, await store.CountIntentsAsync());
        Assert.Equal(1, await store.ReconcileIntentsAsync("me", Now, TimeSpan.FromSeconds(30), Price));
        await AssertReconciledAsync(store, store, "req-wide", policy: "rules");
    }

    private static int IndexOfNarrowStep(IReadOnlyList<string> steps)
    {
        for (var i = 0; i < steps.Count; i++)
        {
            if (steps[i].Contains("CREATE TABLE ledger_intents_narrow", StringComparison.Ordinal))
            {
                return i;
            }
        }

        throw new InvalidOperationException("No narrow-intent migration step.");
    }

    /// <summary>An intent on Claude Haiku 4.5 started at <see cref="Started"/> whose worst case is 1,000 input and 2,000 output tokens.</summary>
    private static LedgerIntent NewIntent() => new()
    {
        Id = "01intent",
        CreatedAt = Started,
        RequestId = "req-1",
        KeyId = "k1",
        SessionId = "s1",
        TaskLabel = "task",
        RequestedModel = "auto",
        RoutedModel = "claude-haiku-4-5",
        Policy = "rules",
        Attempt = 2,
        Streaming = true,
        InputTokens = 1_000,
        OutputTokens = 2_000,
    };

    /// <summary>A wide intent row as schema step 6 stored it (the old proxy's outcome_unknown record), of a dead instance.</summary>
    private static string WideIntentSql(DateTimeOffset at, string tier, string streaming, string no, string cost) =>
        $"""
        INSERT INTO ledger_intents (id, timestamp, request_id, key_id, session_id, task_label, requested_model, routed_model, policy, reason, attempt,
            input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, service_tier, speed,
            cost_input, cost_output, cost_cache_write_5m, cost_cache_write_1h, cost_cache_read, cost_total,
            latency_ms, streaming, status, http_status, error_type, effort_is_default, thinking_blocks_dropped,
            web_search_requests, web_fetch_requests, cost_server_tools, client_disconnected, usage_estimated, instance_id, reservation_id)
        VALUES ('01intent', {SqliteLedgerSchema.ToStoredTimestamp(at).ToString(CultureInfo.InvariantCulture)}, 'req-wide', 'k1', 's1', 'task', 'auto', 'claude-haiku-4-5', 'rules', 'why', 2,
            1000, 2000, 0, 0, 0, {tier}, 'standard',
            {cost}, {cost}, {cost}, {cost}, {cost}, {cost},
            0, {streaming}, 'outcome_unknown', 0, 'outcome_unknown', {no}, 0,
            0, 0, {cost}, {no}, {streaming}, 'dead', NULL);
        """;

    private static async Task AssertReconciledAsync(ILedgerStore store, ILedgerRollupStore rollups, string requestId, string policy)
    {
        var rows = new List<LedgerRecord>();
        await foreach (var row in store.ReadAsync(new LedgerQuery()))
        {
            rows.Add(row);
        }

        var record = Assert.Single(rows);
        Assert.Equal(("01intent", requestId, "k1", "s1", "task", "auto", "claude-haiku-4-5", policy, 2, true),
            (record.Id, record.RequestId, record.KeyId, record.SessionId, record.TaskLabel, record.RequestedModel, record.RoutedModel, record.Policy, record.Attempt, record.Streaming));
        Assert.Equal((LedgerStatus.OutcomeUnknown, "outcome_unknown", 0, true), (record.Status, record.ErrorType, record.HttpStatus, record.UsageEstimated));
        Assert.Equal(Started, record.Timestamp);
        Assert.Equal(new TokenUsage(1_000, 2_000), record.Usage);

        // Claude Haiku 4.5 at $1 / $5 per MTok: 1,000 × $1/M + 2,000 × $5/M = $0.001 + $0.010 = $0.011.
        Assert.Equal(0.011m, record.Cost!.Value.Total);
        Assert.Equal(0.001m, record.Cost.Value.Input);

        // Rolled up like any batch's row.
        var rolled = new List<LedgerRollup>();
        await foreach (var rollup in rollups.ReadRollupsAsync(null, null))
        {
            rolled.Add(rollup);
        }

        var hour = Assert.Single(rolled);
        Assert.Equal((1L, LedgerStatus.OutcomeUnknown, 0.011m), (hour.Calls, hour.Status, hour.Cost.Total));
        Assert.Equal(0, await ((IAttemptJournalStore)store).CountIntentsAsync());
    }
}
