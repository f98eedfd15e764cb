using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ModelMix.Catalog;
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
                            fast_mode = FastModeIn(row.entry, row.period),
                            rules = RulesJson(row.entry.Rules),
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

                    modifiers.Add(FastModeIn(entry, period) switch
                    {
                        false when period.FastMultiplier is { } kept => $"no fast mode (×{kept.ToString(CultureInfo.InvariantCulture)} kept to price past fast calls)",
                        false => "no fast mode",
                        true when period.FastMultiplier is { } fast => $"fast mode ×{fast.ToString(CultureInfo.InvariantCulture)}",
                        _ => "fast mode (rate unpublished: recorded unpriced)",
                    });
                    modifiers.AddRange(RuleFacts(entry.Rules));

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

    /// <summary>
    /// Whether the model offers fast mode (<c>speed: "fast"</c>) in <paramref name="period"/>: as its rules state
    /// (<c>fastMode</c>), else when the period has a fast-mode multiplier (the same judgement as routing's rule check).
    /// </summary>
    internal static bool FastModeIn(ModelPriceEntry entry, ModelPrice period) =>
        entry.Rules.FastMode ?? period.FastMultiplier.HasValue;

    /// <summary>The request rules users route by, one short line each (nothing for a model the catalog states no rules for).</summary>
    internal static IEnumerable<string> RuleFacts(ModelRules rules)
    {
        if (!rules.ForcedToolUse)
        {
            yield return "no forced tool use";
        }

        var thinking = new List<string>();
        if (rules.AdaptiveThinking)
        {
            thinking.Add("adaptive");
        }

        if (rules.ManualThinking)
        {
            thinking.Add("manual");
        }

        if (rules.DisableThinking)
        {
            thinking.Add("disabled");
        }

        if (thinking.Count < 3 || rules.ThinkingOnByDefault)
        {
            yield return "thinking: " + string.Join("/", thinking) + (rules.ThinkingOnByDefault ? " (on by default)" : string.Empty);
        }

        if (rules.EffortsKnown)
        {
            yield return "effort: " + (Efforts(rules.Efforts) is { Count: > 0 } levels ? string.Join("/", levels) : "none")
                + (RequestTraitsReader.WireName(rules.DefaultEffort) is { } byDefault ? $" (default {byDefault})" : string.Empty);
        }

        if (rules.DefaultSamplingOnly)
        {
            yield return "default sampling only";
        }

        if (rules.ThinkingTiedToModel)
        {
            yield return "reads thinking of: " + string.Join(", ", rules.ReadsThinkingFrom);
        }
    }

    private static object? RulesJson(ModelRules rules) => ReferenceEquals(rules, ModelRules.Permissive) ? null : new
    {
        forced_tool_use = rules.ForcedToolUse,
        thinking = new { adaptive = rules.AdaptiveThinking, manual = rules.ManualThinking, disable = rules.DisableThinking, on_by_default = rules.ThinkingOnByDefault },
        efforts = rules.EffortsKnown ? Efforts(rules.Efforts) : null,
        default_effort = RequestTraitsReader.WireName(rules.DefaultEffort),
        default_sampling_only = rules.DefaultSamplingOnly,
        assistant_prefill = rules.AssistantPrefill,
        rejected_tool_types = rules.RejectedToolTypes,
        preserved_thinking = rules.ThinkingTiedToModel ? new { reads_from = rules.ReadsThinkingFrom } : null,
    };

    private static List<string> Efforts(EffortLevels levels) =>
        [.. new[] { (EffortLevels.Low, "low"), (EffortLevels.Medium, "medium"), (EffortLevels.High, "high"), (EffortLevels.XHigh, "xhigh"), (EffortLevels.Max, "max") }
            .Where(pair => levels.HasFlag(pair.Item1)).Select(pair => pair.Item2)];

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
