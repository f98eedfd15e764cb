using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// The contract every <see cref="ILedgerStore"/> keeps, run against each store (SQLite, PostgreSQL) by a subclass
/// that says how to open a fresh, migrated store.
/// </summary>
public abstract class LedgerStoreContractTests
{
    /// <summary>Opens a migrated store over this test class's database (the same database on every call).</summary>
    protected abstract Task<ILedgerStore> OpenAsync();

    protected static async Task<List<LedgerRecord>> ReadAllAsync(ILedgerStore store, LedgerQuery? query = null)
    {
        var list = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(query ?? LedgerQuery.All))
        {
            list.Add(record);
        }

        return list;
    }

    [Fact]
    public async Task Every_field_round_trips_including_exact_decimal_costs_and_null_cost()
    {
        var full = new LedgerRecord
        {
            Id = "01JQ-full",
            Timestamp = new DateTimeOffset(2026, 3, 1, 14, 30, 15, 123, TimeSpan.FromHours(2)).AddTicks(4567),
            RequestId = "req-1",
            UpstreamRequestId = "req_011CUpstream",
            SessionId = "sess-9",
            KeyId = "key-team-a",
            TaskLabel = "summarize",
            RequestedModel = "auto",
            RoutedModel = "claude-opus-4-6",
            ResponseModel = "claude-opus-4-6-20260201",
            Policy = "cascade",
            Reason = "confidence 0.41 < 0.6: escalate ✓ \"quoted\" 'single'",
            Attempt = 2,
            EscalatedFrom = "claude-haiku-4-5",
            Usage = new TokenUsage(1234, 567, 89, 10, 4_000_000_000L, ServiceTier.Batch, Speed.Fast, "us"),
            Cost = new CostBreakdown(0.0262845m, 0.000000000001m, 1.10m, 0m, 79228162514264.337593543950335m),
            LatencyMs = 98765,
            Streaming = true,
            Status = LedgerStatus.Error,
            HttpStatus = 529,
            ErrorType = "overloaded_error",
            ShadowPairId = "shadow-3",
            Effort = "xhigh",
            EffortIsDefault = true,
            ThinkingBlocksDropped = 3,
        };
        var bare = new LedgerRecord
        {
            Id = "01JQ-bare",
            Timestamp = full.Timestamp.AddSeconds(1),
            RequestId = "req-2",
            RequestedModel = "claude-sonnet-4-5",
            RoutedModel = "claude-sonnet-4-5",
            Cost = null,
            Status = LedgerStatus.Unpriced,
            ErrorType = "unpriced_model",
        };

        await using (var store = await OpenAsync())
        {
            await store.WriteBatchAsync([full, bare]);
        }

        await using var reopened = await OpenAsync();
        var read = await ReadAllAsync(reopened);

        Assert.Equal([full, bare], read);
        Assert.Equal(full.Timestamp.UtcTicks, read[0].Timestamp.UtcTicks);
        var cost = read[0].Cost!.Value;
        Assert.Equal("0.0262845", cost.Input.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("0.000000000001", cost.Output.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("1.10", cost.CacheWrite5m.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(79228162514264.337593543950335m, cost.CacheRead);
        Assert.Null(read[1].Cost);
        Assert.Equal(("xhigh", true, 3), (read[0].Effort, read[0].EffortIsDefault, read[0].ThinkingBlocksDropped));
        Assert.Equal((null, false, 0), (read[1].Effort, read[1].EffortIsDefault, read[1].ThinkingBlocksDropped));
    }

    [Fact]
    public async Task Totals_are_exact_over_ten_thousand_records()
    {
        await using var store = await OpenAsync();
        for (var offset = 0; offset < 10_000; offset += 1_000)
        {
            await store.WriteBatchAsync(LedgerRecords.Many(1_000, offset));
        }

        var totals = await store.GetTotalsAsync(LedgerQuery.All);

        Assert.Equal(10_000, totals.Count);
        Assert.Equal(0, totals.UnpricedCount);
        Assert.Equal(0.011m, totals.Cost.Input);
        Assert.Equal(0.011m, totals.TotalCost);
        Assert.Equal(110_000, totals.InputTokens);
        Assert.Equal(30_000, totals.OutputTokens);
        Assert.Equal(50_000, totals.CacheReadTokens);
        Assert.Equal(0, totals.CacheWrite5mTokens);

        // What a REAL column and SQLite SUM would have given: not the exact amount.
        var asDouble = 0d;
        for (var i = 0; i < 10_000; i++)
        {
            asDouble += 0.0000011;
        }

        Assert.NotEqual(0.011, asDouble);
    }

    [Fact]
    public async Task Totals_sum_every_component_and_count_unpriced_records_without_cost()
    {
        await using var store = await OpenAsync();
        var priced = LedgerRecords.Simple(1) with
        {
            Cost = new CostBreakdown(0.1m, 0.2m, 0.3m, 0.4m, 0.000000000001m),
            Usage = new TokenUsage(1, 2, 3, 4, 5),
        };
        var unpriced = LedgerRecords.Simple(2) with { Cost = null, Status = LedgerStatus.Unpriced, Usage = new TokenUsage(10, 20) };
        await store.WriteBatchAsync([priced, unpriced, priced with { Id = "again" }]);

        var totals = await store.GetTotalsAsync(LedgerQuery.All);

        Assert.Equal(3, totals.Count);
        Assert.Equal(1, totals.UnpricedCount);
        Assert.Equal(new CostBreakdown(0.2m, 0.4m, 0.6m, 0.8m, 0.000000000002m), totals.Cost);
        Assert.Equal(2.000000000002m, totals.TotalCost);
        Assert.Equal((12L, 24L, 6L, 8L, 10L), (totals.InputTokens, totals.OutputTokens, totals.CacheWrite5mTokens, totals.CacheWrite1hTokens, totals.CacheReadTokens));
    }

    [Fact]
    public async Task Totals_of_an_empty_selection_are_zero()
    {
        await using var store = await OpenAsync();

        var totals = await store.GetTotalsAsync(LedgerQuery.All);

        Assert.Equal(LedgerTotals.Empty, totals);
    }

    [Fact]
    public async Task Queries_filter_and_order_by_timestamp_ascending()
    {
        await using var store = await OpenAsync();
        var t = LedgerRecords.Start;
        LedgerRecord Make(string id, int minutes, string? key = null, string? session = null, string? task = null,
            string model = "claude-haiku-4-5", LedgerStatus status = LedgerStatus.Ok, string request = "r") =>
            LedgerRecords.Simple(0, id: id) with
            {
                Timestamp = t.AddMinutes(minutes), KeyId = key, SessionId = session, TaskLabel = task,
                RoutedModel = model, Status = status, RequestId = request,
            };

        // Written out of order: reads come back by timestamp.
        await store.WriteBatchAsync(
        [
            Make("c", 30, key: "k1", session: "s1", task: "code", request: "r2"),
            Make("a", 10, key: "k1", session: "s2", task: "chat"),
            Make("d", 40, key: "k2", model: "claude-opus-4-6", status: LedgerStatus.Error),
            Make("b", 20, key: "k2", session: "s1", task: "code", request: "r2"),
        ]);

        async Task<string> Ids(LedgerQuery q) => string.Concat((await ReadAllAsync(store, q)).Select(r => r.Id));

        Assert.Equal("abcd", await Ids(LedgerQuery.All));
        Assert.Equal("bc", await Ids(new LedgerQuery { From = t.AddMinutes(20), To = t.AddMinutes(40) }));
        Assert.Equal("ac", await Ids(new LedgerQuery { KeyId = "k1" }));
        Assert.Equal("bc", await Ids(new LedgerQuery { SessionId = "s1" }));
        Assert.Equal("bc", await Ids(new LedgerQuery { RequestId = "r2" }));
        Assert.Equal("bc", await Ids(new LedgerQuery { TaskLabel = "code" }));
        Assert.Equal("d", await Ids(new LedgerQuery { Model = "claude-opus-4-6" }));
        Assert.Equal("d", await Ids(new LedgerQuery { Status = LedgerStatus.Error }));
        Assert.Equal("b", await Ids(new LedgerQuery { KeyId = "k2", SessionId = "s1" }));
        Assert.Equal("ab", await Ids(new LedgerQuery { Limit = 2 }));

        Assert.Equal(2, await store.CountAsync(new LedgerQuery { From = t.AddMinutes(20), To = t.AddMinutes(40) }));
        Assert.Equal(3, await store.CountAsync(new LedgerQuery { Limit = 3 }));
        Assert.Equal(2, (await store.GetTotalsAsync(new LedgerQuery { Limit = 2 })).Count);
        Assert.Equal(0, await store.CountAsync(new LedgerQuery { KeyId = "nobody" }));
    }

    [Fact]
    public async Task A_replayed_batch_does_not_double()
    {
        await using var store = await OpenAsync();
        var batch = LedgerRecords.Many(100);

        await store.WriteBatchAsync(batch);
        await store.WriteBatchAsync(batch);
        await store.WriteBatchAsync(batch.Take(50).Concat(LedgerRecords.Many(10, offset: 100)).ToArray());

        var totals = await store.GetTotalsAsync(LedgerQuery.All);
        Assert.Equal(110, totals.Count);
        Assert.Equal(0.000121m, totals.TotalCost);
    }

    [Fact]
    public async Task A_batch_is_one_transaction_all_or_nothing()
    {
        await using var store = await OpenAsync();
        // The sixth record fails only when it is bound, after five rows were inserted in the transaction.
        var invalid = LedgerRecords.Simple(5) with { Status = (LedgerStatus)99 };
        var batch = LedgerRecords.Many(5).Append(invalid).ToArray();

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.WriteBatchAsync(batch));

        Assert.Equal(0, await store.CountAsync(LedgerQuery.All));
        await store.WriteBatchAsync(LedgerRecords.Many(5));
        Assert.Equal(5, await store.CountAsync(LedgerQuery.All));
    }

    [Fact]
    public async Task A_record_without_a_required_field_is_refused_before_anything_is_written()
    {
        await using var store = await OpenAsync();
        var batch = LedgerRecords.Many(3).Append(LedgerRecords.Simple(3) with { RoutedModel = null! }).ToArray();

        var error = await Assert.ThrowsAsync<ArgumentException>(() => store.WriteBatchAsync(batch));

        Assert.Contains(nameof(LedgerRecord.RoutedModel), error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await store.CountAsync(LedgerQuery.All));
    }
}
