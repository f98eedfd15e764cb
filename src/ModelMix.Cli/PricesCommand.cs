using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ModelMix.Pricing;
using Spectre.Console;

namespace ModelMix.Cli;

/// <summary><c>modelmix prices</c>: the price book as it will be applied, and the SDK's models it cannot price.</summary>
internal static class PricesCommand
{
    public static Command Create()
    {
        var prices = CommonOptions.Prices();
        var format = CommonOptions.Format();
        var at = CommonOptions.Instant("--at", "Show the prices in force at this date (default: every period).");
        var check = new Option<bool>("--check")
        {
            Description = "Check the catalog instead of listing it: the Anthropic SDK's models it lacks, and (with the ledger) models used in the last 30 days that are retired or unpriced. Exits 1 when anything is found.",
        };
        var db = CommonOptions.Db();
        var command = new Command("prices", "List the model catalog (tiers, per MTok rates, modifiers, context, sources) and flag the SDK's models that have no price.")
        {
            prices, format, at, check, db,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var output = result.InvocationConfiguration.Output;
            try
            {
                var book = result.GetValue(prices) is { } path ? PriceBook.Load(path) : PriceBook.Default;
                if (result.GetValue(check))
                {
                    return await CheckAsync(book, result.GetValue(db), result.GetValue(format) == "json", output, cancellationToken);
                }

                var when = result.GetValue(at);
                var rows = book.Entries
                    .SelectMany(entry => entry.Periods.Where(period => when is null || period.IsInForce(when.Value)).Select(period => (entry, period)))
                    .ToList();
                if (result.GetValue(format) == "json")
                {
                    var json = new
                    {
                        source = book.SourceName,
                        tiers = book.Tiers,
                        batch_multiplier = book.BatchMultiplier,
                        inference_geo_multipliers = book.InferenceGeoMultipliers,
                        models = rows.Select(row => new
                        {
                            id = row.entry.Id,
                            aliases = row.entry.Aliases,
                            family = row.entry.Family,
                            effective_from = row.period.EffectiveFrom,
                            effective_to = row.period.EffectiveTo,
                            input_per_mtok = row.period.Input,
                            output_per_mtok = row.period.Output,
                            cache_write_5m_per_mtok = row.period.CacheWrite5m,
                            cache_write_1h_per_mtok = row.period.CacheWrite1h,
                            cache_read_per_mtok = row.period.CacheRead,
                            long_context = row.period.LongContext,
                            fast_multiplier = row.period.FastMultiplier,
                            min_cacheable_tokens = row.entry.MinCacheableTokens,
                            context_window = row.entry.ContextWindow,
                            max_output = row.entry.MaxOutput,
                            status = row.entry.Status,
                            retirement = row.entry.Retirement,
                            source = row.entry.Source,
                        }),
                        unpriced_sdk_models = book.UnpricedSdkModels,
                    };
                    await output.WriteLineAsync(JsonSerializer.Serialize(json, Output.Json));
                    return 0;
                }

                var console = Output.Console(output);
                console.MarkupLine("Tiers: " + Markup.Escape(string.Join(", ", book.Tiers.Select(tier => $"{tier.Key} → {book.ResolveTier(tier.Key)}"))));
                console.MarkupLine($"Price book: [bold]{Markup.Escape(book.SourceName)}[/] — USD per million tokens; batch ×{book.BatchMultiplier.ToString(CultureInfo.InvariantCulture)}; " +
                    $"data residency {Markup.Escape(string.Join(", ", book.InferenceGeoMultipliers.Where(pair => pair.Value != 1m).Select(pair => $"{pair.Key} ×{pair.Value.ToString(CultureInfo.InvariantCulture)}")))}");
                var table = new Table()
                    .AddColumn("model").AddColumn("effective")
                    .AddColumn(new TableColumn("input").RightAligned()).AddColumn(new TableColumn("output").RightAligned())
                    .AddColumn(new TableColumn("cache 5m").RightAligned()).AddColumn(new TableColumn("cache 1h").RightAligned())
                    .AddColumn(new TableColumn("cache read").RightAligned()).AddColumn("modifiers");
                foreach (var (entry, period) in rows)
                {
                    var names = entry.Id + (entry.Aliases.Count > 0 ? "\n" + string.Join(", ", entry.Aliases) : string.Empty)
                        + (entry.Retirement is { } retired ? $"\nretires {retired:yyyy-MM-dd}" : string.Empty);
                    var effective = period.EffectiveFrom.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + " →" +
                        (period.EffectiveTo is { } end ? " " + end.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : string.Empty);
                    var modifiers = new List<string>();
                    if (period.LongContext is { } longContext)
                    {
                        modifiers.Add($">{longContext.ThresholdTokens / 1000}K input: ${longContext.Input.ToString(CultureInfo.InvariantCulture)} / ${longContext.Output.ToString(CultureInfo.InvariantCulture)}");
                    }

                    if (period.FastMultiplier is { } fast)
                    {
                        modifiers.Add($"fast ×{fast.ToString(CultureInfo.InvariantCulture)}");
                    }

                    table.AddRow(
                        Markup.Escape(names),
                        effective,
                        Rate(period.Input),
                        Rate(period.Output),
                        Rate(period.CacheWrite5m),
                        Rate(period.CacheWrite1h),
                        Rate(period.CacheRead),
                        Markup.Escape(string.Join("\n", modifiers)));
                }

                console.Write(table);
                if (book.UnpricedSdkModels.Count > 0)
                {
                    console.MarkupLine($"[yellow]Unpriced[/] (known to the Anthropic SDK, no price here — requests to them are forwarded and recorded unpriced, and refused where a budget applies): {Markup.Escape(string.Join(", ", book.UnpricedSdkModels))}");
                }

                return 0;
            }
            catch (Exception exception) when (exception is PricingException or FileNotFoundException or IOException or FormatException or System.Data.Common.DbException)
            {
                await result.InvocationConfiguration.Error.WriteLineAsync("modelmix prices: " + CliErrors.Message(exception));
                return 1;
            }
        });
        return command;
    }

    /// <summary><c>prices --check</c>: what the SDK knows that the catalog lacks, and retired or unpriced models the ledger still sees.</summary>
    private static async Task<int> CheckAsync(PriceBook book, string? db, bool json, TextWriter output, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var used = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var location = db ?? Environment.GetEnvironmentVariable("ModelMix__Store") ?? "modelmix.db";
        var readLedger = db is not null || File.Exists(location);
        if (readLedger)
        {
            await using var store = ModelMix.Stores.StoreLocation.Parse(location).CreateLedgerStore();
            await store.MigrateAsync(cancellationToken);
            await foreach (var record in store.ReadAsync(new ModelMix.Ledger.LedgerQuery { From = now.AddDays(-30) }, cancellationToken))
            {
                used[record.RoutedModel] = used.GetValueOrDefault(record.RoutedModel) + 1;
            }
        }

        var retired = used.Where(pair => book.TryGetEntry(pair.Key, out var entry) && (entry.Retirement <= now || entry.Status == "retired"))
            .Select(pair => new { model = pair.Key, calls = pair.Value, retirement = book.GetEntry(pair.Key).Retirement }).ToList();
        var unpriced = used.Where(pair => !book.TryResolveId(pair.Key, out _)).Select(pair => new { model = pair.Key, calls = pair.Value }).ToList();
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(new { source = book.SourceName, unpriced_sdk_models = book.UnpricedSdkModels, ledger_read = readLedger, retired_in_ledger = retired, unpriced_in_ledger = unpriced }, Output.Json));
        }
        else
        {
            await output.WriteLineAsync($"Catalog: {book.SourceName}");
            await output.WriteLineAsync(book.UnpricedSdkModels.Count == 0
                ? "Every model the installed Anthropic SDK knows has a price."
                : $"Known to the installed Anthropic SDK, not in the catalog: {string.Join(", ", book.UnpricedSdkModels)}");
            if (!readLedger)
            {
                await output.WriteLineAsync($"No ledger at {location}: pass --db to check the models your traffic uses.");
            }
            else
            {
                await output.WriteLineAsync(retired.Count == 0
                    ? "No retired model in the ledger's last 30 days."
                    : "Retired models still used in the last 30 days: " + string.Join(", ", retired.Select(r => $"{r.model} ({r.calls} calls, retired {r.retirement:yyyy-MM-dd})")));
                await output.WriteLineAsync(unpriced.Count == 0
                    ? "No unpriced model in the ledger's last 30 days."
                    : "Unpriced models used in the last 30 days (recorded without cost; add a price to reprice them): " + string.Join(", ", unpriced.Select(u => $"{u.model} ({u.calls} calls)")));
            }
        }

        return book.UnpricedSdkModels.Count + retired.Count + unpriced.Count > 0 ? 1 : 0;
    }

    private static string Rate(decimal perMillion) => "$" + perMillion.ToString("0.00##", CultureInfo.InvariantCulture);
}
