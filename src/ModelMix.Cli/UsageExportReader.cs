using System.Globalization;
using System.Text.Json;
using CsvHelper;
using CsvHelper.Configuration;
using ModelMix.Evaluation;
using ModelMix.Pricing;

namespace ModelMix.Cli;

/// <summary>
/// Reads a usage export (JSON Lines or CSV) into <see cref="UsageRow"/>s. Columns, case-insensitive: <c>model</c>
/// (required), <c>input_tokens</c>, <c>output_tokens</c>, <c>cache_creation_input_tokens</c> (all 5-minute writes
/// unless split by <c>cache_write_5m_tokens</c> / <c>cache_write_1h_tokens</c>), <c>cache_read_input_tokens</c>,
/// <c>service_tier</c>, <c>speed</c>, <c>inference_geo</c>, <c>effort</c>, <c>web_search_requests</c>, <c>web_fetch_requests</c>,
/// <c>timestamp</c>, <c>cost_usd</c>. A JSON line may instead carry the API's own <c>usage</c> object (its
/// <c>server_tool_use</c> included).
/// </summary>
internal static class UsageExportReader
{
    public static IEnumerable<UsageRow> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"--input names '{path}', which does not exist.", path);
        }

        return Path.GetExtension(path).ToUpperInvariant() switch
        {
            ".CSV" => ReadCsv(path),
            ".JSONL" or ".NDJSON" or ".JSON" => ReadJsonLines(path),
            _ => throw new FormatException($"--input '{path}': use a .jsonl or .csv file."),
        };
    }

    private static IEnumerable<UsageRow> ReadJsonLines(string path)
    {
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            UsageRow row;
            try
            {
                using var document = JsonDocument.Parse(line);
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    throw new FormatException("expected a JSON object");
                }

                var fields = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
                foreach (var property in root.EnumerateObject())
                {
                    fields[property.Name] = property.Value.ValueKind switch
                    {
                        JsonValueKind.String => property.Value.GetString(),
                        JsonValueKind.Number => property.Value.GetRawText(),
                        JsonValueKind.Null => null,
                        _ => property.Value.GetRawText(),
                    };
                }

                TokenUsage? usage = null;
                if (root.TryGetProperty("usage", out var usageElement) && usageElement.ValueKind != JsonValueKind.Null)
                {
                    if (usageElement.ValueKind != JsonValueKind.Object)
                    {
                        throw new FormatException($"usage must be a JSON object, got {usageElement.ValueKind}");
                    }

                    RequireTokenCounts(usageElement, "usage.");
                    if (usageElement.TryGetProperty("cache_creation", out var breakdown) && breakdown.ValueKind == JsonValueKind.Object)
                    {
                        RequireTokenCounts(breakdown, "usage.cache_creation.");
                    }

                    if (usageElement.TryGetProperty("server_tool_use", out var serverTools) && serverTools.ValueKind == JsonValueKind.Object)
                    {
                        RequireTokenCounts(serverTools, "usage.server_tool_use.");
                    }

                    usage = AnthropicUsage.FromJson(usageElement);
                }
                row = ToRow(fields, usage);
            }
            catch (Exception exception) when (exception is JsonException or FormatException or OverflowException)
            {
                throw new FormatException($"{path}:{lineNumber}: {exception.Message}", exception);
            }

            yield return row;
        }
    }

    private static IEnumerable<UsageRow> ReadCsv(string path)
    {
        using var reader = new StreamReader(path);
        using var csv = new CsvReader(reader, new CsvConfiguration(CultureInfo.InvariantCulture) { PrepareHeaderForMatch = args => args.Header.ToUpperInvariant() });
        if (!csv.Read() || !csv.ReadHeader())
        {
            yield break;
        }

        var header = (csv.HeaderRecord ?? []).Select(name => name.Trim()).ToArray();
        while (true)
        {
            UsageRow row;
            try
            {
                if (!csv.Read())
                {
                    break;
                }

                if (csv.Parser.Count != header.Length)
                {
                    throw new FormatException($"the row has {csv.Parser.Count} fields, the header has {header.Length}");
                }

                var fields = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
                for (var i = 0; i < header.Length; i++)
                {
                    fields[header[i]] = csv.GetField(i);
                }

                row = ToRow(fields, null);
            }
            catch (Exception exception) when (exception is FormatException or OverflowException or CsvHelperException)
            {
                var message = exception is CsvHelperException ? "not valid CSV (" + exception.Message.Split('\n')[0].Trim() + ")" : exception.Message;
                throw new FormatException($"{path}:{csv.Parser.RawRow}: {message}", exception);
            }

            yield return row;
        }
    }

    private static UsageRow ToRow(Dictionary<string, string?> fields, TokenUsage? usage)
    {
        var model = fields.GetValueOrDefault("model");
        if (string.IsNullOrWhiteSpace(model))
        {
            throw new FormatException("the 'model' column is missing or empty");
        }

        if (usage is null)
        {
            var cacheCreation = Tokens(fields, "cache_creation_input_tokens");
            var write5m = Tokens(fields, "cache_write_5m_tokens");
            var write1h = Tokens(fields, "cache_write_1h_tokens");
            if (write5m + write1h == 0)
            {
                write5m = cacheCreation;
            }
            else if (cacheCreation != 0 && cacheCreation != write5m + write1h)
            {
                throw new FormatException($"cache_creation_input_tokens ({cacheCreation}) differs from cache_write_5m_tokens + cache_write_1h_tokens ({write5m + write1h})");
            }

            usage = new TokenUsage(
                Tokens(fields, "input_tokens"),
                Tokens(fields, "output_tokens"),
                write5m,
                write1h,
                Tokens(fields, "cache_read_input_tokens"),
                fields.GetValueOrDefault("service_tier")?.Trim().ToLowerInvariant() switch
                {
                    null or "" or "standard" => ServiceTier.Standard,
                    "batch" => ServiceTier.Batch,
                    "priority" => ServiceTier.Priority,
                    var other => throw new FormatException($"service_tier '{other}' is not standard, batch or priority"),
                },
                fields.GetValueOrDefault("speed")?.Trim().ToLowerInvariant() switch
                {
                    null or "" or "standard" => Speed.Standard,
                    "fast" => Speed.Fast,
                    var other => throw new FormatException($"speed '{other}' is not standard or fast"),
                },
                fields.GetValueOrDefault("inference_geo") is { Length: > 0 } geo ? geo : null,
                Tokens(fields, "web_search_requests"),
                Tokens(fields, "web_fetch_requests"));
        }

        DateTimeOffset? timestamp = null;
        if (fields.GetValueOrDefault("timestamp") is { Length: > 0 } text)
        {
            timestamp = DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
                ? parsed
                : throw new FormatException($"timestamp must be an ISO 8601 date and time, got '{text}'");
        }

        decimal? cost = null;
        if (fields.GetValueOrDefault("cost_usd") is { Length: > 0 } costText)
        {
            cost = decimal.TryParse(costText, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsedCost)
                ? parsedCost
                : throw new FormatException($"cost_usd must be a decimal number of dollars, got '{costText}'");
        }

        string? effort = null;
        if (fields.GetValueOrDefault("effort") is { Length: > 0 } effortText)
        {
            effort = Catalog.RequestTraitsReader.TryParseEffort(effortText, out var level)
                ? Catalog.RequestTraitsReader.WireName(level)
                : throw new FormatException($"effort must be low, medium, high, xhigh or max, got '{effortText}'");
        }

        return new UsageRow(timestamp, model, usage.Value, cost) { Effort = effort };
    }

    private static long Tokens(Dictionary<string, string?> fields, string name)
    {
        if (fields.GetValueOrDefault(name) is not { Length: > 0 } text)
        {
            return 0;
        }

        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < 0)
        {
            throw new FormatException($"{name} must be a non-negative integer, got '{text}'");
        }

        return value;
    }

    /// <summary>
    /// The API's usage object is read leniently (a missing count is zero); an export is not: a count that is there
    /// but is not a non-negative integer (a string, a fraction, a negative) is refused rather than read as zero.
    /// </summary>
    private static void RequireTokenCounts(JsonElement usage, string prefix)
    {
        foreach (var property in usage.EnumerateObject())
        {
            if (!(property.Name.EndsWith("_tokens", StringComparison.Ordinal) || property.Name.EndsWith("_requests", StringComparison.Ordinal))
                || property.Value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetInt64(out var value) || value < 0)
            {
                throw new FormatException($"{prefix}{property.Name} must be a non-negative integer, got {property.Value.GetRawText()}");
            }
        }
    }
}
