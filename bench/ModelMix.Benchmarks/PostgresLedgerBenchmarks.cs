using BenchmarkDotNet.Attributes;
using ModelMix.Ledger;
using ModelMix.Postgres;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;

namespace ModelMix.Benchmarks;

/// <summary>
/// Ledger write throughput on a real PostgreSQL server: a throwaway local cluster with fsync on (the default
/// durability), or the server <c>MODELMIX_TEST_POSTGRES</c> names. Each operation writes fresh time-ordered ids, as
/// the pipeline makes them, through binary COPY into a temporary table and one INSERT … ON CONFLICT DO NOTHING.
/// </summary>
[MemoryDiagnoser]
public class PostgresLedgerBenchmarks
{
    /// <summary>Records per end-to-end operation.</summary>
    public const int RecordsPerFlush = 10_000;

    private const int BatchSize = 1_000;

    private readonly LedgerRecord[] _batch = new LedgerRecord[BatchSize];
    private PostgresLedgerStore _store = null!;
    private BufferedLedger _ledger = null!;
    private LedgerRecord _template = null!;
    private DateTimeOffset _clock = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Starts (or connects to) PostgreSQL and creates two databases: one for the bare store, one behind a <see cref="BufferedLedger"/>.</summary>
    [GlobalSetup]
    public async Task SetupAsync()
    {
        var server = await PostgresServer.StartAsync(durable: true);
        _store = new PostgresLedgerStore(await server.CreateDatabaseAsync("bench"));
        await _store.MigrateAsync();
        _ledger = await BufferedLedger.OpenAsync(await server.CreateDatabaseAsync("bench"));
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

    /// <summary>Flushes and closes both ledgers (the throwaway cluster stops when the process exits).</summary>
    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _ledger.DisposeAsync();
        await _store.DisposeAsync();
    }

    /// <summary>One transaction of 1,000 records by binary COPY; records/s = 1,000 / mean.</summary>
    [Benchmark(Description = "PostgresLedgerStore.WriteBatchAsync(1,000 records)")]
    public Task WriteBatchOf1000()
    {
        for (var i = 0; i < _batch.Length; i++)
        {
            _batch[i] = Next();
        }

        return _store.WriteBatchAsync(_batch);
    }

    /// <summary><see cref="RecordsPerFlush"/> × RecordAsync then FlushAsync, per record (records/s = 1 / mean).</summary>
    [Benchmark(Description = "BufferedLedger(PostgreSQL).RecordAsync + FlushAsync (per record)", OperationsPerInvoke = RecordsPerFlush)]
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
        _clock = _clock.AddTicks(10);
        var id = LedgerIds.New(_clock);
        return _template with { Id = id, RequestId = id, Timestamp = _clock };
    }
}
