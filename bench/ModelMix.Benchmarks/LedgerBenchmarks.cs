using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Benchmarks;

/// <summary>
/// Ledger write throughput on a real SQLite file (WAL, synchronous=NORMAL) in the temp folder. Records carry
/// time-ordered ids (<see cref="LedgerIds"/>), as the pipeline makes them; each operation writes fresh ids, so the
/// idempotent-insert path is never the one measured. Making the records (a <c>with</c> copy and an id) is included.
/// </summary>
[MemoryDiagnoser]
public class LedgerBenchmarks
{
    /// <summary>Records per end-to-end operation.</summary>
    public const int RecordsPerFlush = 10_000;

    private const int BatchSize = 1_000;

    private readonly LedgerRecord[] _batch = new LedgerRecord[BatchSize];
    private string _folder = string.Empty;
    private SqliteLedgerStore _store = null!;
    private BufferedLedger _ledger = null!;
    private LedgerRecord _template = null!;
    private DateTimeOffset _clock = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private long _sequence;

    /// <summary>Creates two ledger files: one for the bare store, one behind a <see cref="BufferedLedger"/>.</summary>
    [GlobalSetup]
    public async Task SetupAsync()
    {
        _folder = Path.Combine(Path.GetTempPath(), "modelmix-ledger-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        _store = new SqliteLedgerStore(Path.Combine(_folder, "store.db"));
        await _store.MigrateAsync();
        _ledger = await BufferedLedger.OpenSqliteAsync(Path.Combine(_folder, "ledger.db"));
        _template = new LedgerRecord
        {
            Id = "template",
            Timestamp = _clock,
            RequestId = "template",
            UpstreamRequestId = "req_011CTemplate",
            SessionId = "session-1",
            KeyId = "key-team-a",
            TaskLabel = "chat",
            RequestedModel = "claude-sonnet-4-5",
            RoutedModel = "claude-haiku-4-5",
            ResponseModel = "claude-haiku-4-5-20251001",
            Policy = "rules",
            Reason = "short prompt without tools",
            Usage = new TokenUsage(1_200, 300, 0, 0, 4_000),
            Cost = new CostBreakdown(0.0012m, 0.0015m, 0m, 0m, 0.0004m),
            LatencyMs = 812,
            HttpStatus = 200,
        };
    }

    /// <summary>Flushes and closes both ledgers and deletes their files.</summary>
    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _ledger.DisposeAsync();
        await _store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>One transaction of 1,000 records through the prepared insert; records/s = 1,000 / mean.</summary>
    [Benchmark(Description = "SqliteLedgerStore.WriteBatchAsync(1,000 records)")]
    public Task WriteBatchOf1000()
    {
        for (var i = 0; i < _batch.Length; i++)
        {
            _batch[i] = Next();
        }

        return _store.WriteBatchAsync(_batch);
    }

    /// <summary>
    /// <see cref="RecordsPerFlush"/> × <see cref="ILedger.RecordAsync"/> then <see cref="ILedger.FlushAsync"/>, reported
    /// per record (records/s = 1 / mean): buffering, batching and committing, end to end.
    /// </summary>
    [Benchmark(Description = "BufferedLedger.RecordAsync + FlushAsync (per record)", OperationsPerInvoke = RecordsPerFlush)]
    public async Task RecordThenFlush()
    {
        for (var i = 0; i < RecordsPerFlush; i++)
        {
            await _ledger.RecordAsync(Next());
        }

        await _ledger.FlushAsync();
    }

    private LedgerRecord Next()
    {
        var n = ++_sequence;
        _clock = _clock.AddTicks(10);
        var id = LedgerIds.New(_clock);
        return _template with { Id = id, RequestId = id, Timestamp = _clock, SessionId = n % 64 == 0 ? "session-2" : "session-1" };
    }
}
