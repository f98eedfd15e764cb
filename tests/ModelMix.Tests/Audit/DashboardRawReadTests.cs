using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Ledger;

namespace ModelMix.Tests.Audit;

/// <summary>
/// What a dashboard view reads (docs/dashboard.md, "What a view reads"): every day from the daily rollups (today too,
/// its rows' last call being before the view's end), the sessions of the last day (from its hour on) from the writer's
/// per-session hourly rows, and raw rows only for the hour routing started in (the baseline), the escalated-request count
/// (the writer's per-hour counts; raw rows of the partial hours at the ends only) and the latest 25 calls.
/// A counting wrapper around the real SQLite store records every read and its range.
/// </summary>
public sealed class DashboardRawReadTests : IDisposable
{
    private static readonly DateTimeOffset Day0 = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task A_view_reads_whole_days_from_daily_rollups_and_raw_rows_only_in_bounded_windows()
    {
        // One small priced call every 10 minutes from 1 March 00:05 to 4 March 15:35 (the view is at 15:37), two keys.
        var records = Enumerable.Range(0, (3 * 144) + 94).Select(i => new LedgerRecord
        {
            Id = $"c-{i:D5}",
            Timestamp = Day0.AddMinutes(5 + (10 * i)),
            RequestId = $"r-{i}",
            SessionId = $"s-{i / 12}",
            KeyId = i % 2 == 0 ? "key_a" : "key_b",
            TaskLabel = "chat",
            Policy = "rules",
            RequestedModel = "claude-sonnet-4-5",
            RoutedModel = "claude-haiku-4-5",
            Usage = new TokenUsage(InputTokens: 200, OutputTokens: 50),
            Cost = new CostBreakdown(0.0002m, 0.00025m, 0m, 0m, 0m),
            LatencyMs = 400,
            HttpStatus = 200,
        }).ToList();
        await using var sqlite = new SqliteLedgerStore(_db.FilePath);
        await sqlite.MigrateAsync();
        await sqlite.WriteBatchAsync(records);
        var store = new CountingStore(sqlite);

        // As DashboardEndpoint asks at 4 March 15:37:10.
        var now = Day0.AddDays(3).AddHours(15).AddMinutes(37).AddSeconds(10);
        var options = new AuditOptions { From = Day0, To = now.AddTicks(1), RecentCount = 25, SessionWindow = TimeSpan.FromDays(1), TaskLatency = false };
        var report = await AuditRunner.RunAsync(store, PriceBook.Default, options);

        // 1–3 March whole (432 calls) + 4 March 00:05–15:35 (94 calls) = 526 calls at 0.00045 = 0.2367.
        Assert.Equal(526, report.Calls);
        Assert.Equal(0.2367m, report.TotalUsd);

        // Daily rollups: every day of the view, today (4 March, up to now) included since its rows' last call is before
        // the view's end; and the baseline search's first day, which it then reads hour by hour, as routing started in it.
        Assert.Equal([(Day0, Day0.AddDays(1)), (Day0, Day0.AddDays(4))], store.DailyReads);

        // Hourly rollups and raw rows: only routing's first hour (the baseline search stops there).
        Assert.All(store.HourlyReads, read => Assert.True(read.To <= Day0.AddHours(2), $"{read}")); // it looks one hour ahead
        Assert.Equal([(Day0, Day0.AddHours(1))], store.RawReads);
        Assert.Equal(0, store.Counts); // no hour fell back to raw rows
        // Sessions: the last day from its hour on (3 March 15:00), which the store sums from the writer's per-session hourly
        // rows, not raw rows (SqliteLedgerSessionHourTests shows which it reads).
        Assert.Equal([(Day0.AddDays(2).AddHours(15), now.AddTicks(1))], store.SessionReads);
        Assert.Equal(0, store.CallSummaryReads);
        Assert.Equal(0, store.P95Reads); // the dashboard does not rank latencies
    }

    /// <summary>
    /// <c>modelmix audit</c> without <c>--from</c> or <c>--to</c>: the baseline search bounds the open range by the days that
    /// have rollups and reads its hourly rows an hour at a time from routing's first day, never an open-ended stream of
    /// every hourly row (which PostgreSQL would send whole). Fails with the open-ended read this replaced.
    /// </summary>
    [Fact]
    public async Task An_open_range_audit_never_reads_every_hourly_row()
    {
        // A passthrough day, then routed calls: one every 20 minutes from 1 March 00:05 for three days.
        var records = Enumerable.Range(0, 3 * 72).Select(i => new LedgerRecord
        {
            Id = $"o-{i:D5}",
            Timestamp = Day0.AddMinutes(5 + (20 * i)),
            RequestId = $"r-{i}",
            KeyId = "key_a",
            Policy = i < 72 ? "passthrough" : "rules",
            RequestedModel = "claude-sonnet-4-5",
            RoutedModel = i < 72 ? "claude-sonnet-4-5" : "claude-haiku-4-5",
            Usage = new TokenUsage(InputTokens: 200, OutputTokens: 50),
            Cost = new CostBreakdown(0.0002m, 0.00025m, 0m, 0m, 0m),
            LatencyMs = 400,
            HttpStatus = 200,
        }).ToList();
        await using var sqlite = new SqliteLedgerStore(_db.FilePath);
        await sqlite.MigrateAsync();
        await sqlite.WriteBatchAsync(records);
        var store = new CountingStore(sqlite);

        var report = await AuditRunner.RunAsync(store, PriceBook.Default, new AuditOptions());
        var raw = await AuditRunner.RunAsync(sqlite, PriceBook.Default, new AuditOptions { UseRollups = false });
        Assert.Equal(216, report.Calls);
        Assert.Equal(raw.TotalUsd, report.TotalUsd);
        Assert.Equal(Day0.AddDays(1).AddMinutes(5), report.RoutingStart); // the first routed call (i = 72)
        Assert.Equal(raw.RoutingStart, report.RoutingStart);
        Assert.Equal(raw.Escalations, report.Escalations);
        Assert.NotEmpty(store.HourlyReads);
        Assert.All(store.HourlyReads, read => Assert.True(read.From != DateTimeOffset.MinValue && read.To != DateTimeOffset.MaxValue && read.To - read.From <= TimeSpan.FromHours(1), $"{read}"));
    }

    /// <summary>The real store, with every read and its range recorded.</summary>
    private sealed class CountingStore(SqliteLedgerStore inner) : ILedgerStore, ILedgerRollupStore
    {
        private static readonly DateTimeOffset Min = DateTimeOffset.MinValue;
        private static readonly DateTimeOffset Max = DateTimeOffset.MaxValue;

        public List<(DateTimeOffset From, DateTimeOffset To)> RawReads { get; } = [];
        public List<(DateTimeOffset From, DateTimeOffset To)> HourlyReads { get; } = [];
        public List<(DateTimeOffset From, DateTimeOffset To)> DailyReads { get; } = [];
        public List<(DateTimeOffset From, DateTimeOffset To)> SessionReads { get; } = [];
        public int Counts { get; private set; }
        public int CallSummaryReads { get; private set; }
        public int P95Reads { get; private set; }

        public Task MigrateAsync(CancellationToken cancellationToken = default) => inner.MigrateAsync(cancellationToken);

        public Task WriteBatchAsync(IReadOnlyList<LedgerRecord> records, CancellationToken cancellationToken = default) => inner.WriteBatchAsync(records, cancellationToken);

        public IAsyncEnumerable<LedgerRecord> ReadAsync(LedgerQuery query, CancellationToken cancellationToken = default)
        {
            RawReads.Add((query.From ?? Min, query.To ?? Max));
            return inner.ReadAsync(query, cancellationToken);
        }

        public Task<LedgerTotals> GetTotalsAsync(LedgerQuery query, CancellationToken cancellationToken = default) => throw new InvalidOperationException("not read by a view");

        public Task<long> CountAsync(LedgerQuery query, CancellationToken cancellationToken = default)
        {
            Counts++;
            return inner.CountAsync(query, cancellationToken);
        }

        public IAsyncEnumerable<LedgerRollup> ReadRollupsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default)
        {
            HourlyReads.Add((from ?? Min, to ?? Max));
            return inner.ReadRollupsAsync(from, to, cancellationToken);
        }

        public IAsyncEnumerable<LedgerRollup> ReadDailyRollupsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default)
        {
            DailyReads.Add((from ?? Min, to ?? Max));
            return inner.ReadDailyRollupsAsync(from, to, cancellationToken);
        }

        public Task<long> RepriceAsync(DateTimeOffset from, DateTimeOffset to, Func<LedgerRecord, CostBreakdown?> price, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("not used by a view");

        public IAsyncEnumerable<LedgerCallSummary> ReadCallSummariesAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default)
        {
            CallSummaryReads++;
            return inner.ReadCallSummariesAsync(from, to, cancellationToken);
        }

        public Task<long> CountEscalatedRequestsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default) =>
            inner.CountEscalatedRequestsAsync(from, to, cancellationToken);

        public IAsyncEnumerable<LedgerRecord> ReadLatestAsync(DateTimeOffset? from, DateTimeOffset? to, int count, CancellationToken cancellationToken = default) =>
            inner.ReadLatestAsync(from, to, count, cancellationToken);

        public IAsyncEnumerable<LedgerSessionSummary> ReadSessionSummariesAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default)
        {
            SessionReads.Add((from ?? Min, to ?? Max));
            return inner.ReadSessionSummariesAsync(from, to, cancellationToken);
        }

        public IAsyncEnumerable<LedgerTaskLatency> ReadFirstAttemptP95LatencyAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default)
        {
            P95Reads++;
            return inner.ReadFirstAttemptP95LatencyAsync(from, to, cancellationToken);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
