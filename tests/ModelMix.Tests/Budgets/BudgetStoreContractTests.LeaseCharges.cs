using System.Diagnostics.Metrics;
using ModelMix.Budgets;
using ModelMix.Ledger;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// How a ledger batch charges its leased records (issue 29, <see cref="BudgetOverrunRule"/>): the money each record is
/// charged and the overrun each one books, on SQLite and PostgreSQL alike.
/// </summary>
public abstract partial class BudgetStoreContractTests
{
    [Fact]
    public async Task Several_records_of_one_lease_in_one_batch_are_charged_in_order_and_each_books_its_own_overrun()
    {
        // Another process holds $0.6 of the $1 day cap; the lease takes $0.1 (share 1, want $0.1): the key's counter then
        // holds $0.7, so the lease's records can be charged its free $0.1 plus the $0.3 of room up to the cap: $0.4.
        await using var other = NewBudgetStore();
        Assert.True((await other.ReserveAsync("req-other", [Daily(1m)], 0.6m, Time.GetUtcNow(), Ttl)).Succeeded);
        Assert.Equal(Nanos / 10, await Leases.GrowLeaseAsync("lse_split", create: true, "inst-1", [Daily(1m)], 0, Nanos / 10, 1m, Time.GetUtcNow(), Time.GetUtcNow() + Ttl));
        await using var ledger = (IAttemptJournalStore)NewLedgerStore();
        await ledger.MigrateAsync();
        var intents = new[] { Intent("req-1", 1000, "lse_split"), Intent("req-2", 1000, null), Intent("req-3", 1000, "lse_split"), Intent("req-4", 1000, "lse_split"), Intent("req-5", 1000, "lse_split"), Intent("req-6", 1000, "lse_split") };
        await ledger.WriteIntentsAsync("inst-1", intents, Time.GetUtcNow());

        // In batch order: $0.125 (charged in full: 0.125 of 0.4), an unleased $0.5 (not this lease's), $0.25 (in full: 0.375
        // of 0.4), $0.0625 (0.025 left: charged 0.025, overrun 0.0375), $0 (nothing to charge), $0.125 (nothing left: all overrun).
        await ledger.WriteBatchAsync(
        [
            Record("req-1", 0.125m) with { Id = intents[0].Id },
            Record("req-2", 0.5m) with { Id = intents[1].Id },
            Record("req-3", 0.25m) with { Id = intents[2].Id },
            Record("req-4", 0.0625m) with { Id = intents[3].Id },
            Record("req-5", 0m) with { Id = intents[4].Id },
            Record("req-6", 0.125m) with { Id = intents[5].Id },
        ]);

        var overruns = new Dictionary<string, decimal?>();
        await foreach (var row in ((ILedgerStore)ledger).ReadAsync(new LedgerQuery()))
        {
            overruns[row.RequestId] = row.OverrunUsd;
        }

        Assert.Equal(new Dictionary<string, decimal?> { ["req-1"] = null, ["req-2"] = null, ["req-3"] = null, ["req-4"] = 0.0375m, ["req-5"] = null, ["req-6"] = 0.125m }, overruns);

        // Charged to the lease: 0.125 + 0.25 + 0.025 = 0.4, shown as spent; held: the counter's 0.7 grew by what went
        // beyond the slice (0.4 − 0.1 = 0.3) to 1.0, less the lease's spent 0.4 = 0.6 (the other process's hold).
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0.4m, 0.6m), await Usage(BudgetWindow.Day));

        // Closing the lease: spent 0.4, the other process's 0.6 still held.
        await Leases.CloseLeasesAsync(["lse_split"], Time.GetUtcNow());
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0.4m, 0.6m), await Usage(BudgetWindow.Day));
    }

    [Fact]
    public async Task Two_leases_of_one_key_charged_in_one_batch_share_the_room_under_the_cap()
    {
        // Two leases of $0.1 each (two processes, or a lease and its successor) and another process's $0.5 hold: the counter
        // holds 0.7, so the room up to the $1 cap is 0.3 — for both leases together, not each.
        await using var other = NewBudgetStore();
        Assert.True((await other.ReserveAsync("req-other", [Daily(1m)], 0.5m, Time.GetUtcNow(), Ttl)).Succeeded);
        Assert.Equal(Nanos / 10, await Leases.GrowLeaseAsync("lse_two_a", create: true, "inst-1", [Daily(1m)], 0, Nanos / 10, 1m, Time.GetUtcNow(), Time.GetUtcNow() + Ttl));
        Assert.Equal(Nanos / 10, await Leases.GrowLeaseAsync("lse_two_b", create: true, "inst-2", [Daily(1m)], 0, Nanos / 10, 1m, Time.GetUtcNow(), Time.GetUtcNow() + Ttl));
        await using var ledger = (IAttemptJournalStore)NewLedgerStore();
        await ledger.MigrateAsync();
        var first = Intent("req-1", 1000, "lse_two_a");
        var second = Intent("req-2", 1000, "lse_two_b");
        await ledger.WriteIntentsAsync("inst-1", [first, second], Time.GetUtcNow());

        // One batch, $0.3 on each lease: the first is charged its 0.1 slice + 0.2 of room (0.1 room left); the second its 0.1
        // slice + the 0.1 left = 0.2, overrun 0.1. Without sharing, both would use the 0.3 and the key would end at $1.1.
        await ledger.WriteBatchAsync([Record("req-1", 0.3m) with { Id = first.Id }, Record("req-2", 0.3m) with { Id = second.Id }]);
        Assert.Equal(new Dictionary<string, decimal?> { ["req-1"] = null, ["req-2"] = 0.1m }, await OverrunsByRequest(ledger));

        // Spent (charged to the open leases): 0.3 + 0.2 = 0.5; held: 0.7 + what went beyond the slices (0.2 + 0.1) = 1.0,
        // less the 0.5 spent = 0.5 (the other process's hold). spent + held = the cap.
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, new DateTimeOffset(2026, 3, 14, 0, 0, 0, TimeSpan.Zero), 0.5m, 0.5m), await Usage(BudgetWindow.Day));
    }

    [Fact]
    public async Task Overruns_booked_by_lease_charges_are_counted_on_metrics()
    {
        // A model name of this test's own, so other tests' overruns do not count here.
        var model = "claude-haiku-4-5-" + Guid.NewGuid().ToString("N");
        using var meter = new OverrunMeter(model);

        // The lease takes the whole $0.1 cap; a $0.25 record is charged the 0.1 and books 0.25 − 0.1 = 0.15 as overrun.
        Assert.Equal(Nanos / 10, await Leases.GrowLeaseAsync("lse_metrics", create: true, "inst-1", [Daily(0.1m)], 0, Nanos / 10, 1m, Time.GetUtcNow(), Time.GetUtcNow() + Ttl));
        await using var ledger = (IAttemptJournalStore)NewLedgerStore();
        await ledger.MigrateAsync();
        var intent = Intent("req-1", 1000, "lse_metrics");
        await ledger.WriteIntentsAsync("inst-1", [intent], Time.GetUtcNow());
        await ledger.WriteBatchAsync([Record("req-1", 0.25m) with { Id = intent.Id, RoutedModel = model }]);

        Assert.Equal(new Dictionary<string, decimal?> { ["req-1"] = 0.15m }, await OverrunsByRequest(ledger));
        Assert.Equal(1, meter.Rows);
        Assert.Equal(0.15d, meter.Usd, 9);
    }

    /// <summary>Counts the overruns reported on /metrics (<see cref="BudgetOverrunMetrics"/>) for one model.</summary>
    internal sealed class OverrunMeter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _rows;
        private double _usd;

        public OverrunMeter(string model)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ModelMix.Telemetry.ModelMixMetrics.MeterName && instrument.Name is "modelmix.budget.overruns" or "modelmix.budget.overrun_usd")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) => { if (HasModel(tags, model)) { Interlocked.Add(ref _rows, value); } });
            _listener.SetMeasurementEventCallback<double>((_, value, tags, _) => { if (HasModel(tags, model)) { lock (_listener) { _usd += value; } } });
            _listener.Start();
        }

        /// <summary>Ledger rows counted with an overrun.</summary>
        public long Rows => Interlocked.Read(ref _rows);

        /// <summary>USD counted as overrun.</summary>
        public double Usd
        {
            get
            {
                lock (_listener)
                {
                    return _usd;
                }
            }
        }

        public void Dispose() => _listener.Dispose();

        private static bool HasModel(ReadOnlySpan<KeyValuePair<string, object?>> tags, string model)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "model" && tag.Value as string == model)
                {
                    return true;
                }
            }

            return false;
        }
    }

    private static async Task<Dictionary<string, decimal?>> OverrunsByRequest(IAttemptJournalStore ledger)
    {
        var overruns = new Dictionary<string, decimal?>();
        await foreach (var row in ((ILedgerStore)ledger).ReadAsync(new LedgerQuery()))
        {
            overruns[row.RequestId] = row.OverrunUsd;
        }

        return overruns;
    }
}
