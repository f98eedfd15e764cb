using System.CommandLine;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelMix.Shadow;

namespace ModelMix.Cli;

/// <summary>
/// <c>modelmix export --shadow</c>: the ledger's shadow pairs in the routing dataset format (shared/data/README.md),
/// so <c>modelmix eval</c> / <c>train</c> can read your own traffic: the live model is the reference (quality 1.0),
/// the candidate's quality is the pair's agreement.
/// </summary>
internal static class ExportCommand
{
    private static readonly JsonSerializerOptions Line = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = false };

    public static Command Create()
    {
        var shadow = new Option<bool>("--shadow") { Description = "Export the shadow pairs (the only export so far)." };
        var store = CommonOptions.Db(); // --db / --store: a SQLite file or a PostgreSQL database; default $ModelMix__Store, else modelmix.db
        var output = new Option<string?>("--out") { Description = "The JSON Lines file to write (created or replaced). Without it the lines go to standard output and the summary to standard error." };
        var from = CommonOptions.Instant("--from", "Only pairs whose live call started at or after this time.");
        var to = CommonOptions.Instant("--to", "Only pairs whose live call started before this time (exclusive).");
        var command = new Command("export", "Export ledger data; --shadow writes the shadow pairs as a routing dataset (JSON Lines), to --out FILE or to standard output.")
        {
            shadow, store, output, from, to,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var error = result.InvocationConfiguration.Error;
            if (!result.GetValue(shadow))
            {
                await error.WriteLineAsync("modelmix export: say what to export: --shadow (shadow pairs as a routing dataset).");
                return 1;
            }

            var path = result.GetValue(store)!;
            if (ModelMix.Stores.StoreLocation.NamesMissingFile(path))
            {
                await error.WriteLineAsync($"modelmix export: the ledger '{path}' does not exist (pass --store PATH).");
                return 1;
            }

            try
            {
                var outPath = result.GetValue(output);
                var (written, skipped) = await ExportShadowAsync(path, outPath, result.InvocationConfiguration.Output, result.GetValue(from), result.GetValue(to), cancellationToken);
                // Without --out the lines went to standard output (pipe them on), so the summary goes to standard error.
                await (outPath is null ? error : result.InvocationConfiguration.Output).WriteLineAsync(
                    $"Exported {written} shadow pair(s) to {outPath ?? "standard output"}; skipped {skipped} without an agreement score (failed shadow or judge calls).");
                return 0;
            }
            catch (Exception exception) when (exception is IOException or InvalidOperationException or InvalidDataException or UnauthorizedAccessException or FormatException or System.Data.Common.DbException)
            {
                await error.WriteLineAsync("modelmix export: " + exception.Message);
                return 1;
            }
        });
        return command;
    }

    /// <summary>
    /// Writes one dataset line per compared pair to <paramref name="outPath"/> (created or replaced, once the store is
    /// open), or to <paramref name="standardOutput"/> when it is null; returns how many were written and how many skipped.
    /// </summary>
    internal static async Task<(int Written, int Skipped)> ExportShadowAsync(string db, string? outPath, TextWriter standardOutput, DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken)
    {
        await using var ledger = ModelMix.Stores.StoreLocation.Parse(db).CreateLedgerStore(); // SQLite file or postgres://
        await ledger.MigrateAsync(cancellationToken);
        var store = ledger as IShadowPairStore ?? throw new InvalidOperationException(
            $"the ledger store ({ledger.GetType().Name}) keeps no shadow pairs.");
        if (outPath is null)
        {
            var counts = await WriteAsync(store, standardOutput, from, to, cancellationToken);
            await standardOutput.FlushAsync(cancellationToken);
            return counts;
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(outPath));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        await using var file = new StreamWriter(outPath, append: false, new UTF8Encoding(false));
        return await WriteAsync(store, file, from, to, cancellationToken);
    }

    private static async Task<(int Written, int Skipped)> WriteAsync(IShadowPairStore store, TextWriter writer, DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken)
    {
        var (written, skipped) = (0, 0);
        await foreach (var pair in store.ReadShadowPairsAsync(from, to, cancellationToken))
        {
            if (pair.Agreement is not { } agreement || string.Equals(pair.LiveModel, pair.ShadowModel, StringComparison.OrdinalIgnoreCase))
            {
                skipped++;
                continue;
            }

            await writer.WriteLineAsync(ToLine(pair, agreement).ToJsonString(Line));
            written++;
        }

        return (written, skipped);
    }

    private static JsonObject ToLine(ShadowPair pair, double agreement)
    {
        var line = new JsonObject
        {
            ["id"] = "shadow/" + pair.PairId,
            ["source"] = "shadow",
            ["task"] = pair.TaskLabel,
        };
        if (pair.Prompt is not null)
        {
            line["prompt"] = pair.Prompt;
        }

        line["method"] = ShadowRunner.MethodCode(pair.Method);
        line["candidates"] = new JsonObject
        {
            [pair.LiveModel] = Candidate(1.0, pair.LiveCostUsd, pair.LiveInputTokens, pair.LiveOutputTokens),
            [pair.ShadowModel] = Candidate(agreement, pair.ShadowCostUsd, pair.ShadowInputTokens, pair.ShadowOutputTokens),
        };
        return line;
    }

    private static JsonObject Candidate(double quality, decimal? cost, long input, long output) => new()
    {
        ["quality"] = quality,
        ["cost_usd"] = cost,
        ["input_tokens"] = input,
        ["output_tokens"] = output,
    };
}
