using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using ModelMix.Ledger;

namespace ModelMix.Benchmarks;

/// <summary>
/// The attempt intent journal's hot path on a real SQLite file (WAL, synchronous=NORMAL; docs/ledger.md "Crash
/// consistency"): what one request pays before its dispatch when it commits its intent alone (the 4-connection case:
/// at most a few requests share a commit), and one intent of a group of 16 committed together (the 64-connection case).
/// Each operation journals fresh ids; the intents are never completed, so the table grows by one row per intent as it
/// does while a request is upstream (the ledger batch deletes them later, measured by <see cref="CompleteIntents"/>).
/// </summary>
[MemoryDiagnoser]
public class IntentJournalBenchmarks
{
    private const int Group = 16;

    private readonly LedgerIntent[] _group = new LedgerIntent[Group];
    private string _folder = string.Empty;
    private SqliteLedgerStore _store = null!;
    private AttemptJournal _journal = null!;
    private LedgerIntent _template = null!;
    private DateTimeOffset _clock = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Creates the ledger file and the journal over it.</summary>
    [GlobalSetup]
    public async Task SetupAsync()
    {
        _folder = Path.Combine(Path.GetTempPath(), "modelmix-intent-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        _store = new SqliteLedgerStore(Path.Combine(_folder, "ledger.db"));
        await _store.MigrateAsync();
        _journal = new AttemptJournal(_store, "bench-instance", TimeProvider.System, TimeSpan.FromMinutes(10));
        _template = new LedgerIntent
        {
            Id = "template",
            CreatedAt = _clock,
            RequestId = "template",
            KeyId = "key-team-a",
            RequestedModel = "auto",
            RoutedModel = "claude-haiku-4-5",
            Policy = "rules",
            InputTokens = 1_200,
            OutputTokens = 1_024,
        };
        await _journal.RegisterAsync(Next()); // the first intent carries the instance's heartbeat
    }

    /// <summary>Stops the journal, closes the store and deletes the file.</summary>
    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _journal.DisposeAsync();
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>One request's intent committed alone, as at low concurrency: the wait before its dispatch.</summary>
    [Benchmark(Description = "AttemptJournal.RegisterAsync (1 intent, alone)")]
    public Task RegisterOne() => _journal.RegisterAsync(Next());

    /// <summary>The store's transaction for one intent, without the journal's queue.</summary>
    [Benchmark(Description = "SqliteLedgerStore.WriteIntentsAsync (1 intent)")]
    public Task WriteOne() => _store.WriteIntentsAsync("bench-instance", [Next()], heartbeatAt: null);

    /// <summary><see cref="Group"/> intents in one transaction, per intent (the 64-connection case).</summary>
    [Benchmark(Description = "SqliteLedgerStore.WriteIntentsAsync (16 intents, per intent)", OperationsPerInvoke = Group)]
    public Task WriteGroup()
    {
        for (var i = 0; i < Group; i++)
        {
            _group[i] = Next();
        }

        return _store.WriteIntentsAsync("bench-instance", _group, heartbeatAt: null);
    }

    /// <summary>
    /// Completion: one ledger batch of <see cref="Group"/> records that each delete their intent (journaled first,
    /// outside the measurement is impossible here, so the intents' write is included: subtract <see cref="WriteGroup"/>).
    /// </summary>
    [Benchmark(Description = "journal 16 intents + commit their 16 records (per record)", OperationsPerInvoke = Group)]
    public async Task CompleteIntents()
    {
        for (var i = 0; i < Group; i++)
        {
            _group[i] = Next();
        }

        await _store.WriteIntentsAsync("bench-instance", _group, heartbeatAt: null);
        var records = new LedgerRecord[Group];
        for (var i = 0; i < Group; i++)
        {
            var intent = _group[i];
            records[i] = intent.ToOutcomeUnknownRecord() with { Status = LedgerStatus.Ok, ErrorType = null, HttpStatus = 200, UsageEstimated = false };
        }

        await _store.WriteBatchAsync(records);
    }

    private LedgerIntent Next()
    {
        _clock = _clock.AddTicks(10);
        var id = LedgerIds.New(_clock);
        return _template with { Id = id, RequestId = id, CreatedAt = _clock };
    }
}
