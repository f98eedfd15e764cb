using System.Text.Json;
using Microsoft.Extensions.AI;
using ModelMix.Routing;

namespace ModelMix.Pipeline;

/// <summary>Counts the tool calls of a tool loop and measures its largest tool result (estimated tokens, rows).</summary>
internal readonly record struct TwoPassToolResults(int Calls, long LargestTokens, string? LargestTokensTool, int LargestRows, string? LargestRowsTool)
{
    /// <summary>Measures the function results in <paramref name="messages"/>.</summary>
    public static TwoPassToolResults Measure(IEnumerable<ChatMessage> messages)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        var calls = 0;
        long largestTokens = 0;
        int largestRows = 0;
        string? tokensTool = null;
        string? rowsTool = null;
        foreach (var content in messages.SelectMany(static m => m.Contents))
        {
            switch (content)
            {
                case FunctionCallContent call:
                    names[call.CallId] = call.Name;
                    break;
                case FunctionResultContent result:
                    calls++;
                    var name = names.GetValueOrDefault(result.CallId, "a tool");
                    var (tokens, rows) = Size(result.Result);
                    if (tokens > largestTokens)
                    {
                        (largestTokens, tokensTool) = (tokens, name);
                    }

                    if (rows > largestRows)
                    {
                        (largestRows, rowsTool) = (rows, name);
                    }

                    break;
            }
        }

        return new(calls, largestTokens, tokensTool, largestRows, rowsTool);
    }

    /// <summary>The estimated tokens and the rows of one tool result.</summary>
    public static (long Tokens, int Rows) Size(object? result)
    {
        JsonElement json;
        switch (result)
        {
            case null:
                return (0, 0);
            case string text:
                return (TokenEstimator.Estimate(text), RowsOfText(text));
            case JsonElement element:
                json = element;
                break;
            default:
                try
                {
                    json = JsonSerializer.SerializeToElement(result, AIJsonUtilities.DefaultOptions.GetTypeInfo(result.GetType()));
                }
                catch (Exception exception) when (exception is NotSupportedException or InvalidOperationException or JsonException)
                {
                    var fallback = result.ToString();
                    return (TokenEstimator.Estimate(fallback), RowsOfText(fallback ?? string.Empty));
                }

                break;
        }

        if (json.ValueKind == JsonValueKind.String)
        {
            var text = json.GetString() ?? string.Empty;
            return (TokenEstimator.Estimate(text), RowsOfText(text));
        }

        return (TokenEstimator.Estimate(json.GetRawText()), RowsOf(json));
    }

    private static int RowsOfText(string text)
    {
        var trimmed = text.AsSpan().Trim();
        if (trimmed.Length > 1 && (trimmed[0] == '[' || trimmed[0] == '{'))
        {
            try
            {
                using var document = JsonDocument.Parse(text);
                return RowsOf(document.RootElement);
            }
            catch (JsonException)
            {
                // Not JSON after all: count lines.
            }
        }

        var rows = 0;
        foreach (var line in trimmed.EnumerateLines())
        {
            if (!line.IsWhiteSpace())
            {
                rows++;
            }
        }

        return rows;
    }

    private static int RowsOf(JsonElement json)
    {
        switch (json.ValueKind)
        {
            case JsonValueKind.Array:
                return json.GetArrayLength();
            case JsonValueKind.Object:
                var rows = 0;
                foreach (var property in json.EnumerateObject())
                {
                    if (property.Value.ValueKind == JsonValueKind.Array)
                    {
                        rows = Math.Max(rows, property.Value.GetArrayLength());
                    }
                }

                return rows;
            default:
                return 0;
        }
    }
}
