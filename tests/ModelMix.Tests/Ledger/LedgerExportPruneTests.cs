using System.Text;
using System.Text.Json;
using ModelMix.Audit;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Tests.Shared;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// <c>modelmix ledger export / prune / reprice</c> on a real SQLite file (docs/ledger.md, "Export and retention"):
/// the export is exact and resumable, the prune deletes exactly the exported rows before the cut and leaves audits of
/// pruned hours equal, the reprice dry-run writes nothing.
/// </summary>
public sealed class LedgerExportPruneTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 22, 17, 0, TimeSpan.Zero);

    private readonly TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    private async Task<(SqliteLedgerStore Store, LedgerRecord[] Records)> SeedAsync(int count, TimeSpan spacing)
    {
        var records = LedgerTraffic.Generate(count, seed: 31, T0, spacing);
        var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        for (var i = 0; i < records.Length; i += 500)
        {
            await store.WriteBatchAsync(records[i..Math.Min(i + 500, records.Length)]);
        }

        return (store, records);
    }

    private static readonly LedgerRecord Odd = new()
    {
        Id = "zz-odd",
        Timestamp = T0.AddTicks(1234567), // 100 ns precision must survive
        RequestId = "req \"odd\", with\nnewline",
        RequestedModel = "auto",
        RoutedModel = "claude-haiku-4-5",
        KeyId = "k-odd",
        Reason = "café, \"quoted\"\r\nand more",
        Usage = new TokenUsage(11, 0),
        // $0.0000011 + $0 (11 input tokens at $0.10/MTok): an exact small amount with its scale
        Cost = new CostBreakdown(0.0000011m, 0.0000m, 0m, 0m, 0m, 0m),
    };

    [Fact]
    public async Task Jsonl_export_keeps_every_row_in_time_then_id_order_with_exact_decimals_as_strings()
    {
        var (store, records) = await SeedAsync(700, TimeSpan.FromMinutes(1));
        await using var _ = store;
        await store.WriteBatchAsync([Odd]);
        var path = Path.Combine(_db.Folder, "out.jsonl");

        var result = await LedgerExporter.ExportAsync(store, new LedgerExportOptions { Path = path, PageSize = 64 });

        var all = records.Append(Odd).OrderBy(r => r.Timestamp).ThenBy(r => r.Id, StringComparer.Ordinal).ToList();
        var lines = File.ReadAllLines(path);
        Assert.Equal(all.Count, lines.Length);
        Assert.Equal(all.Count, result.Rows);
        Assert.Equal(all.Sum(r => r.Cost?.Total ?? 0m), result.CostTotal);
        Assert.Equal(all.Count(r => r.Cost is null), result.UnpricedRows);
        for (var i = 0; i < all.Count; i++)
        {
            using var line = JsonDocument.Parse(lines[i]);
            Assert.Equal(all[i].Id, line.RootElement.GetProperty("id").GetString());
            var cost = line.RootElement.GetProperty("cost_total");
            if (all[i].Cost is { } c)
            {
                Assert.Equal(JsonValueKind.String, cost.ValueKind); // a string, never a JSON number
                Assert.Equal(c.Total, decimal.Parse(cost.GetString()!, System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                Assert.Equal(JsonValueKind.Null, cost.ValueKind);
            }
        }

        using var odd = JsonDocument.Parse(lines.Single(l => l.Contains("\"zz-odd\"", StringComparison.Ordinal)));
        var root = odd.RootElement;
        Assert.Equal("2026-03-01T22:17:00.1234567Z", root.GetProperty("timestamp").GetString());
        Assert.Equal("0.0000011", root.GetProperty("cost_input").GetString());
        Assert.Equal("0.0000", root.GetProperty("cost_output").GetString()); // the stored scale is kept
        Assert.Equal("0.0000011", root.GetProperty("cost_total").GetString());
        Assert.Equal(Odd.Reason, root.GetProperty("reason").GetString());
        Assert.Equal(Odd.RequestId, root.GetProperty("request_id").GetString());
        Assert.Equal(11, root.GetProperty("input_tokens").GetInt64());
        Assert.Equal("ok", root.GetProperty("status").GetString());
        Assert.False(root.GetProperty("streaming").GetBoolean());
    }

    [Fact]
    public async Task Csv_export_quotes_what_needs_quoting_and_reads_back_field_for_field()
    {
        var (store, records) = await SeedAsync(300, TimeSpan.FromMinutes(1));
        await using var _ = store;
        await store.WriteBatchAsync([Odd]);
        var path = Path.Combine(_db.Folder, "out.csv");

        await LedgerExporter.ExportAsync(store, new LedgerExportOptions { Path = path, Format = LedgerExportFormat.Csv, PageSize = 50 });

        using var reader = new StreamReader(path, Encoding.UTF8);
        var header = LedgerExportFile.ReadCsvRecord(reader)!;
        Assert.Equal(SqliteLedgerSchema.Columns, header);
        var all = records.Append(Odd).OrderBy(r => r.Timestamp).ThenBy(r => r.Id, StringComparer.Ordinal).ToList();
        foreach (var record in all)
        {
            var fields = LedgerExportFile.ReadCsvRecord(reader)!;
            var row = header.Zip(fields).ToDictionary(p => p.First!, p => p.Second);
            Assert.Equal(record.Id, row["id"]);
            Assert.Equal(record.Reason, row["reason"]);
            Assert.Equal(record.RequestId, row["request_id"]);
            Assert.Equal(record.KeyId, row["key_id"]);
            Assert.Equal(record.Cost is { } c ? c.Total.ToString(System.Globalization.CultureInfo.InvariantCulture) : null, row["cost_total"]);
            Assert.Equal(record.Usage.CacheReadTokens.ToString(System.Globalization.CultureInfo.InvariantCulture), row["cache_read_tokens"]);
        }

        Assert.Null(LedgerExportFile.ReadCsvRecord(reader));
    }

    [Fact]
    public async Task Filters_select_the_range_key_and_model()
    {
        var (store, records) = await SeedAsync(1_000, TimeSpan.FromMinutes(1));
        await using var _ = store;
        var from = T0.AddHours(3).AddMinutes(7);
        var to = T0.AddHours(11);
        var key = records.First(r => r.KeyId is not null).KeyId!;
        var model = records.First(r => r.KeyId == key).RoutedModel;
        var path = Path.Combine(_db.Folder, "filtered.jsonl");

        var result = await LedgerExporter.ExportAsync(store, new LedgerExportOptions { Path = path, From = from, To = to, KeyId = key, Model = model, PageSize = 10 });

        var expected = records.Where(r => r.Timestamp >= from && r.Timestamp < to && r.KeyId == key && r.RoutedModel == model)
            .OrderBy(r => r.Timestamp).ThenBy(r => r.Id, StringComparer.Ordinal).Select(r => r.Id).ToList();
        Assert.True(expected.Count > 10, $"{expected.Count} rows selected");
        var ids = new List<string>();
        await foreach (var (row, _) in LedgerExportFile.ReadAsync(path, LedgerExportFormat.Jsonl))
        {
            ids.Add(row.Id);
        }

        Assert.Equal(expected, ids);
        Assert.Equal(expected.Count, result.Rows);
    }

    [Fact]
    public async Task An_interrupted_export_resumes_after_its_cursor_without_a_gap_or_a_duplicate()
    {
        var (store, records) = await SeedAsync(400, TimeSpan.FromMinutes(1));
        await using var _ = store;
        var path = Path.Combine(_db.Folder, "resumed.jsonl");
        var options = new LedgerExportOptions { Path = path, PageSize = 7 };

        // Stopped after three pages...
        using var stop = new CancellationTokenSource();
        var pages = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => LedgerExporter.ExportAsync(
            store, options, new Progress(p => { if (++pages == 3) { stop.Cancel(); } }), stop.Token));
        Assert.Equal(21, LedgerExportState.Load(path)!.Rows);

        // ...then a killed run's half-written page lands after the recorded state, and more calls arrive.
        await File.AppendAllTextAsync(path, "{\"id\":\"half-writ");
        var later = LedgerTraffic.Generate(50, seed: 32, T0.AddDays(1), TimeSpan.FromMinutes(1), "later");
        await store.WriteBatchAsync(later);

        var resumed = await LedgerExporter.ExportAsync(store, options);
        var again = await LedgerExporter.ExportAsync(store, options); // nothing new: idempotent

        var fresh = Path.Combine(_db.Folder, "fresh.jsonl");
        await LedgerExporter.ExportAsync(store, new LedgerExportOptions { Path = fresh, PageSize = 1_000 });
        Assert.Equal(await File.ReadAllBytesAsync(fresh), await File.ReadAllBytesAsync(path));
        Assert.Equal(450, resumed.Rows);
        Assert.Equal(450 - 21, resumed.Added);
        Assert.Equal(0, again.Added);
        Assert.Equal(records.Concat(later).Sum(r => r.Cost?.Total ?? 0m), again.CostTotal);

        // Another selection into the same file is refused, and so is a file without a state.
        await Assert.ThrowsAsync<InvalidOperationException>(() => LedgerExporter.ExportAsync(store, options with { KeyId = "other" }));
        File.Delete(LedgerExporter.StatePath(fresh));
        await Assert.ThrowsAsync<InvalidOperationException>(() => LedgerExporter.ExportAsync(store, options with { Path = fresh }));
    }

    [Fact]
    public async Task Prune_deletes_exactly_the_exported_rows_before_the_cut_and_audits_of_pruned_hours_stay_equal()
    {
        // 3,000 calls, one every 67 s (about 56 hours); the cut at a whole hour about 30 hours in.
        var (store, records) = await SeedAsync(3_000, TimeSpan.FromSeconds(67));
        await using var _ = store;
        var cut = new DateTimeOffset(2026, 3, 3, 4, 0, 0, TimeSpan.Zero);
        await store.WriteIntentsAsync("instance-a", [LedgerIntent.For(records[10] with { Id = "open-intent" }, new TokenUsage(100, 100), reservationId: null)], T0);
        var audit = new AuditOptions
        {
            To = cut, // the pruned period, whole hours
            BaselineModel = "claude-opus-4-5",
            RoutingStart = T0,
            RecentCount = 0,
            SessionWindow = TimeSpan.FromTicks(1), // from the hour before the cut: p95 from its raw rows (pruned), sessions from the per-session rows (kept)
        };
        var auditBefore = await AuditRunner.RunAsync(store, PriceBook.Default, audit);
        var rollupsBefore = LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync(store));
        var newerBefore = await store.GetTotalsAsync(new LedgerQuery { From = cut });
        var older = records.Where(r => r.Timestamp < cut).ToList();
        Assert.InRange(older.Count, 1_000, 2_000);

        // Some pruned calls are ones the baseline could not have served (Opus 4.5 takes no inference_geo): their
        // what-if stays what they paid, from raw rows before the prune and from their rollup rows after it.
        Assert.Contains(auditBefore.Counterfactuals, c => c.Name == "all-on-baseline" && c.InfeasibleCalls > 0);

        var path = Path.Combine(_db.Folder, "export", "before-cut.jsonl");
        var pruned = await LedgerPruner.PruneAsync(store, new LedgerPruneOptions { Before = cut, ExportPath = path, BatchSize = 97 });

        Assert.Equal(older.Count, pruned.Export.Rows);
        Assert.Equal(older.Count, pruned.Deleted);
        Assert.Equal(older.Sum(r => r.Cost?.Total ?? 0m), pruned.DeletedCost);
        Assert.Equal(0, pruned.Remaining);
        Assert.Equal(0, await store.CountAsync(new LedgerQuery { To = cut }));
        Assert.Equal(1, await store.CountIntentsAsync()); // intents untouched
        var newerAfter = await store.GetTotalsAsync(new LedgerQuery { From = cut });
        Assert.Equal(newerBefore, newerAfter); // newer rows untouched
        Assert.Equal(rollupsBefore, LedgerRollupOracle.Describe(await LedgerRollupOracle.ReadAllAsync(store))); // rollups kept

        var auditAfter = await AuditRunner.RunAsync(store, PriceBook.Default, audit);
        Assert.Equal(auditBefore.TotalUsd, auditAfter.TotalUsd);
        Assert.Equal(Json(WithoutRawOnly(auditBefore)), Json(WithoutRawOnly(auditAfter)));

        // Running it again deletes nothing more and changes nothing.
        var again = await LedgerPruner.PruneAsync(store, new LedgerPruneOptions { Before = cut, ExportPath = path, BatchSize = 97 });
        Assert.Equal(0, again.Deleted);
        Assert.Equal(older.Count, again.Export.Rows);

        // Repricing a pruned hour is refused, dry or not.
        var reprice = new LedgerRepriceOptions { From = cut.AddHours(-2), To = cut, UnpricedOnly = true, DryRun = true };
        await Assert.ThrowsAsync<InvalidOperationException>(() => LedgerRepricer.RepriceAsync(store, PriceBook.Default, reprice));
        await Assert.ThrowsAsync<InvalidOperationException>(() => LedgerRepricer.RepriceAsync(store, PriceBook.Default, reprice with { DryRun = false }));
    }

    [Fact]
    public async Task Prune_refuses_an_export_that_does_not_match_the_ledger_and_deletes_nothing()
    {
        var (store, records) = await SeedAsync(600, TimeSpan.FromMinutes(1));
        await using var _ = store;
        var cut = new DateTimeOffset(2026, 3, 2, 3, 0, 0, TimeSpan.Zero);
        var path = Path.Combine(_db.Folder, "tampered.jsonl");
        var older = records.Where(r => r.Timestamp < cut).ToList();
        await LedgerExporter.ExportAsync(store, new LedgerExportOptions { Path = path, To = cut });

        // A priced row's cost edited in the file (the state still says what was written): refused on read-back.
        var lines = await File.ReadAllLinesAsync(path);
        var index = Array.FindIndex(lines, l => !l.Contains("\"cost_total\":null", StringComparison.Ordinal));
        using (var doc = JsonDocument.Parse(lines[index]))
        {
            var total = doc.RootElement.GetProperty("cost_total").GetString()!;
            lines[index] = lines[index].Replace($"\"cost_total\":\"{total}\"", "\"cost_total\":\"999\"", StringComparison.Ordinal);
        }

        await File.WriteAllTextAsync(path, string.Join('\n', lines) + "\n");
        var state = LedgerExportState.Load(path)!;
        (state with { Bytes = new FileInfo(path).Length }).Save(path);
        await Assert.ThrowsAsync<InvalidOperationException>(() => LedgerPruner.PruneAsync(store, new LedgerPruneOptions { Before = cut, ExportPath = path }));
        Assert.Equal(older.Count, await store.CountAsync(new LedgerQuery { To = cut }));

        // A row whose stored cost differs from its export (repriced since) makes its whole batch refused.
        var priced = older.First(r => r.Cost is not null);
        var mismatch = new List<LedgerExportedRow> { new(older[0].Id, older[0].Cost?.Total), new(priced.Id, priced.Cost!.Value.Total + 0.01m) };
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.DeleteExportedAsync(mismatch, cut));
        Assert.Equal(older.Count, await store.CountAsync(new LedgerQuery { To = cut }));

        // A cut that is not a whole hour is refused.
        await Assert.ThrowsAsync<ArgumentException>(() => LedgerPruner.PruneAsync(store, new LedgerPruneOptions { Before = cut.AddMinutes(30), ExportPath = path + "2" }));
    }

    [Fact]
    public async Task Reprice_dry_run_shows_before_and_after_and_writes_nothing_then_the_real_run_updates_rows_and_rollups()
    {
        // Two haiku calls in one hour: one recorded unpriced, one recorded at a wrong cost.
        var at = new DateTimeOffset(2026, 3, 5, 10, 15, 0, TimeSpan.Zero);
        var unpriced = new LedgerRecord
        {
            Id = "r1", Timestamp = at, RequestId = "q1", RequestedModel = "auto", RoutedModel = "claude-haiku-4-5",
            Usage = new TokenUsage(1_000, 500), Cost = null, Status = LedgerStatus.Unpriced,
        };
        var wrong = unpriced with { Id = "r2", RequestId = "q2", Timestamp = at.AddMinutes(1), Cost = new CostBreakdown(1m, 1m, 0m, 0m, 0m, 0m), Status = LedgerStatus.Ok };
        await using var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        await store.WriteBatchAsync([unpriced, wrong]);
        var options = new LedgerRepriceOptions { From = at, To = at.AddMinutes(5), Model = "claude-haiku-4-5", DryRun = true };

        var dry = await LedgerRepricer.RepriceAsync(store, PriceBook.Default, options);

        // Haiku 4.5 at $1 / $5 per MTok: 1,000 × $1/1e6 + 500 × $5/1e6 = $0.001 + $0.0025 = $0.0035 per call.
        // Before: $0 (unpriced) + $2 (the wrong cost) = $2; after: 2 × $0.0035 = $0.007.
        Assert.Equal(2, dry.Selected);
        Assert.Equal(2, dry.Repriced);
        Assert.Equal(2m, dry.Before);
        Assert.Equal(0.007m, dry.After);
        Assert.Equal(new DateTimeOffset(2026, 3, 5, 10, 0, 0, TimeSpan.Zero), dry.From); // whole hours
        Assert.Equal(new DateTimeOffset(2026, 3, 5, 11, 0, 0, TimeSpan.Zero), dry.To);
        Assert.Equal(2m, (await store.GetTotalsAsync(new LedgerQuery())).TotalCost); // nothing written
        Assert.Equal(1, (await store.GetTotalsAsync(new LedgerQuery())).UnpricedCount);

        // --unpriced selects only the unpriced call: $0 → $0.0035.
        var onlyUnpriced = await LedgerRepricer.RepriceAsync(store, PriceBook.Default, options with { Model = null, UnpricedOnly = true });
        Assert.Equal((1L, 0m, 0.0035m), (onlyUnpriced.Selected, onlyUnpriced.Before, onlyUnpriced.After));

        var real = await LedgerRepricer.RepriceAsync(store, PriceBook.Default, options with { DryRun = false });
        Assert.Equal((dry.Selected, dry.Before, dry.After), (real.Selected, real.Before, real.After));
        var totals = await store.GetTotalsAsync(new LedgerQuery());
        Assert.Equal(0.007m, totals.TotalCost);
        Assert.Equal(0, totals.UnpricedCount);
        var rollups = await LedgerRollupOracle.ReadAllAsync(store);
        Assert.Equal(0.007m, rollups.Sum(r => r.Cost.Total));
        var stored = new List<LedgerRecord>();
        await foreach (var record in store.ReadAsync(new LedgerQuery()))
        {
            stored.Add(record);
        }

        Assert.Equal(LedgerRollupOracle.Expected(stored), LedgerRollupOracle.Describe(rollups));
    }

    // Decimals compared by value (an hour summed from its rollups may carry another scale than the same sum of raw rows).
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Converters = { new DecimalByValue() } };

    private sealed class DecimalByValue : System.Text.Json.Serialization.JsonConverter<decimal>
    {
        public override decimal Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDecimal();

        public override void Write(Utf8JsonWriter writer, decimal value, JsonSerializerOptions options) =>
            writer.WriteRawValue(value.ToString("G29", System.Globalization.CultureInfo.InvariantCulture));
    }

    private static string Json(AuditReport report) => JsonSerializer.Serialize(report, Indented);

    /// <summary>The report without what comes from raw rows only (the escalated-request count: a partial index of raw rows).</summary>
    /// <summary>
    /// The report without what only raw rows give: escalated requests, and each task's p95 latency (ranked over the raw
    /// rows of the session window, which starts on the hour: a one-tick window before the cut covers the pruned hour
    /// before it). Per-session statistics stay: they come from the per-session hourly rows, which retention keeps.
    /// </summary>
    private static AuditReport WithoutRawOnly(AuditReport report) =>
        report with
        {
            Escalations = report.Escalations with { EscalatedRequests = 0, Rate = 0m },
            TaskCosts = [.. report.TaskCosts.Select(t => t with { P95LatencyMs = null })],
        };

    private sealed class Progress(Action<LedgerExportProgress> report) : IProgress<LedgerExportProgress>
    {
        public void Report(LedgerExportProgress value) => report(value);
    }
}
