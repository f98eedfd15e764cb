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
        var command = new Command("prices", "List the price book (per MTok rates, modifiers, sources) and flag the SDK's models that have no price.")
        {
            prices, format, at,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var output = result.InvocationConfiguration.Output;
            try
            {
                var book = result.GetValue(prices) is { } path ? PriceBook.Load(path) : PriceBook.Default;
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
                            source = row.entry.Source,
                        }),
                        unpriced_sdk_models = book.UnpricedSdkModels,
                    };
                    await output.WriteLineAsync(JsonSerializer.Serialize(json, Output.Json));
                    return 0;
                }

                var console = Output.Console(output);
                console.MarkupLine($"Price book: [bold]{Markup.Escape(book.SourceName)}[/] — USD per million tokens; batch ×{book.BatchMultiplier.ToString(CultureInfo.InvariantCulture)}; " +
                    $"data residency {Markup.Escape(string.Join(", ", book.InferenceGeoMultipliers.Where(pair => pair.Value != 1m).Select(pair => $"{pair.Key} ×{pair.Value.ToString(CultureInfo.InvariantCulture)}")))}");
                var table = new Table()
                    .AddColumn("model").AddColumn("effective")
                    .AddColumn(new TableColumn("input").RightAligned()).AddColumn(new TableColumn("output").RightAligned())
                    .AddColumn(new TableColumn("cache 5m").RightAligned()).AddColumn(new TableColumn("cache 1h").RightAligned())
                    .AddColumn(new TableColumn("cache read").RightAligned()).AddColumn("modifiers");
                foreach (var (entry, period) in rows)
                {
                    var names = entry.Id + (entry.Aliases.Count > 0 ? "\n" + string.Join(", ", entry.Aliases) : string.Empty);
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
                    console.MarkupLine($"[yellow]Unpriced[/] (known to the Anthropic SDK, no price here — requests to them are refused until priced): {Markup.Escape(string.Join(", ", book.UnpricedSdkModels))}");
                }

                return 0;
            }
            catch (Exception exception) when (exception is PricingException or FileNotFoundException or IOException)
            {
                await result.InvocationConfiguration.Error.WriteLineAsync("modelmix prices: " + exception.Message);
                return 1;
            }
        });
        return command;
    }

    private static string Rate(decimal perMillion) => "$" + perMillion.ToString("0.00##", CultureInfo.InvariantCulture);
}
