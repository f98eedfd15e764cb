using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ModelMix.Evaluation;

/// <summary>
/// Reads a routing dataset (JSON Lines, one prompt per line, see <c>shared/data/README.md</c>) as a stream: one line at
/// a time, so the file never has to fit in memory twice. A malformed line fails with its file and line number.
/// </summary>
internal static class RoutingDataset
{
    /// <summary>Streams the records of <paramref name="path"/> in file order (blank lines are skipped).</summary>
    /// <param name="path">The .jsonl file.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DatasetFormatException">A line is not a valid record; the message names the line.</exception>
    public static IEnumerable<DatasetRecord> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The dataset '{path}' does not exist.", path);
        }

        return ReadLines(path);
    }

    private static IEnumerable<DatasetRecord> ReadLines(string path)
    {
        using var reader = new StreamReader(path);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var number = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var record = Parse(line, path, number);
            if (!ids.Add(record.Id))
            {
                throw new DatasetFormatException($"{path}:{number}: the id '{record.Id}' appears twice; ids must be unique (the split is derived from them).");
            }

            yield return record;
        }
    }

    /// <summary>Parses one line; <paramref name="source"/> and <paramref name="line"/> only name it in errors.</summary>
    /// <param name="json">The line's JSON object.</param>
    /// <param name="source">The file name, for messages.</param>
    /// <param name="line">The 1-based line number, for messages.</param>
    /// <exception cref="DatasetFormatException">The line is not a valid record.</exception>
    public static DatasetRecord Parse(string json, string source, int line)
    {
        ArgumentNullException.ThrowIfNull(json);
        var at = $"{source}:{line}";
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new DatasetFormatException($"{at}: not valid JSON ({ex.Message}).", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new DatasetFormatException($"{at}: expected a JSON object, found {root.ValueKind}.");
            }

            var id = RequiredString(root, "id", at);
            var prompt = RequiredString(root, "prompt", at);
            if (!root.TryGetProperty("candidates", out var candidates) || candidates.ValueKind != JsonValueKind.Object)
            {
                throw new DatasetFormatException($"{at}: 'candidates' is missing or not an object of model → {{quality, cost_usd}}.");
            }

            var map = new Dictionary<string, DatasetCandidate>(StringComparer.Ordinal);
            foreach (var candidate in candidates.EnumerateObject())
            {
                map[candidate.Name] = ParseCandidate(candidate.Value, $"{at}: candidates.{candidate.Name}");
            }

            return new DatasetRecord
            {
                Id = id,
                Prompt = prompt,
                Source = OptionalString(root, "source", at),
                Task = OptionalString(root, "task", at),
                Classification = OptionalString(root, "classification", at),
                Confidence = root.TryGetProperty("confidence", out var confidence) && confidence.ValueKind != JsonValueKind.Null
                    ? Number(confidence, $"{at}: confidence", 0, 1)
                    : null,
                Candidates = map,
                Line = line,
            };
        }
    }

    private static DatasetCandidate ParseCandidate(JsonElement value, string at)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new DatasetFormatException($"{at}: expected an object with quality and cost_usd.");
        }

        if (!value.TryGetProperty("quality", out var quality))
        {
            throw new DatasetFormatException($"{at}: 'quality' is missing.");
        }

        if (!value.TryGetProperty("cost_usd", out var cost))
        {
            throw new DatasetFormatException($"{at}: 'cost_usd' is missing.");
        }

        if (cost.ValueKind != JsonValueKind.Number || !cost.TryGetDecimal(out var costUsd) || costUsd < 0)
        {
            throw new DatasetFormatException($"{at}.cost_usd: '{cost.GetRawText()}' is not a non-negative number of USD.");
        }

        double? verified = null;
        if (value.TryGetProperty("verified", out var outcome) && outcome.ValueKind != JsonValueKind.Null)
        {
            verified = outcome.ValueKind switch
            {
                JsonValueKind.True => 1,
                JsonValueKind.False => 0,
                _ => Number(outcome, at + ".verified", 0, 1),
            };
        }

        decimal? verifierCost = null;
        if (value.TryGetProperty("verifier_cost_usd", out var judge) && judge.ValueKind != JsonValueKind.Null)
        {
            verifierCost = judge.ValueKind == JsonValueKind.Number && judge.TryGetDecimal(out var usd) && usd >= 0
                ? usd
                : throw new DatasetFormatException($"{at}.verifier_cost_usd: '{judge.GetRawText()}' is not a non-negative number of USD.");
        }

        return new DatasetCandidate(
            Number(quality, at + ".quality", 0, 1),
            costUsd,
            Tokens(value, "input_tokens", at),
            Tokens(value, "output_tokens", at),
            verified,
            verifierCost);
    }

    /// <summary>One record as a line of the dataset format (what <see cref="Parse"/> reads back).</summary>
    /// <param name="record">The record.</param>
    public static string Format(DatasetRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var candidates = new JsonObject();
        foreach (var (model, c) in record.Candidates)
        {
            var candidate = new JsonObject { ["quality"] = c.Quality, ["cost_usd"] = c.CostUsd };
            if (c.InputTokens is { } input)
            {
                candidate["input_tokens"] = input;
            }

            if (c.OutputTokens is { } output)
            {
                candidate["output_tokens"] = output;
            }

            if (c.Verified is { } verified)
            {
                candidate["verified"] = verified;
            }

            if (c.VerifierCostUsd is { } verifierCost)
            {
                candidate["verifier_cost_usd"] = verifierCost;
            }

            candidates[model] = candidate;
        }

        var line = new JsonObject { ["id"] = record.Id };
        if (record.Source is not null)
        {
            line["source"] = record.Source;
        }

        if (record.Task is not null)
        {
            line["task"] = record.Task;
        }

        line["prompt"] = record.Prompt;
        if (record.Classification is not null)
        {
            line["classification"] = record.Classification;
        }

        if (record.Confidence is { } confidence)
        {
            line["confidence"] = confidence;
        }

        line["candidates"] = candidates;
        return line.ToJsonString(s_line);
    }

    private static readonly JsonSerializerOptions s_line = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = false };

    private static double Number(JsonElement value, string at, double min, double max)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || !double.IsFinite(number))
        {
            throw new DatasetFormatException($"{at}: '{value.GetRawText()}' is not a number.");
        }

        if (number < min || number > max)
        {
            throw new DatasetFormatException(string.Create(CultureInfo.InvariantCulture, $"{at}: {number} is outside [{min}, {max}]."));
        }

        return number;
    }

    private static long? Tokens(JsonElement value, string name, string at)
    {
        if (!value.TryGetProperty(name, out var tokens) || tokens.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (tokens.ValueKind != JsonValueKind.Number || !tokens.TryGetInt64(out var count) || count < 0)
        {
            throw new DatasetFormatException($"{at}.{name}: '{tokens.GetRawText()}' is not a whole number of tokens.");
        }

        return count;
    }

    private static string RequiredString(JsonElement root, string name, string at) =>
        OptionalString(root, name, at) is { Length: > 0 } text
            ? text
            : throw new DatasetFormatException($"{at}: '{name}' is missing or empty.");

    private static string? OptionalString(JsonElement root, string name, string at)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new DatasetFormatException($"{at}: '{name}' must be a string, found {value.ValueKind}.");
    }
}
