using System.Runtime.CompilerServices;
using System.Text.Json;

namespace ModelMix.Audit;

/// <summary>
/// Evidence from a ModelMix routing dataset (JSON Lines: <c>task</c>, <c>candidates</c> → model → <c>quality</c>),
/// the format of the shared datasets, shadow exports and evaluations. A model map renames dataset models to price
/// book models (e.g. <c>claude-instant-v1=haiku</c>); candidates the map drops stay as named.
/// </summary>
internal sealed class RoutingDatasetEvidence : IRecommendationEvidence
{
    private readonly string _path;
    private readonly IReadOnlyDictionary<string, string> _map;

    /// <summary>Reads <paramref name="path"/>, renaming models by <paramref name="modelMap"/>.</summary>
    /// <param name="path">The JSONL file.</param>
    /// <param name="modelMap">Dataset model → model or tier to report it as; optional.</param>
    public RoutingDatasetEvidence(string path, IReadOnlyDictionary<string, string>? modelMap = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _path = path;
        _map = modelMap ?? new Dictionary<string, string>();
    }

    /// <inheritdoc />
    public string Name => _path;

    /// <inheritdoc />
    /// <exception cref="FormatException">A line is not a routing-dataset record; the message names the file and line.</exception>
    public async IAsyncEnumerable<EvidenceSample> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var reader = new StreamReader(_path);
        var number = 0;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            yield return Parse(line, number);
        }
    }

    private EvidenceSample Parse(string line, int number)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var task = root.TryGetProperty("task", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : throw new FormatException("'task' is missing");
            if (!root.TryGetProperty("candidates", out var candidates) || candidates.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("'candidates' is missing");
            }

            var quality = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var candidate in candidates.EnumerateObject())
            {
                if (!candidate.Value.TryGetProperty("quality", out var q) || q.ValueKind != JsonValueKind.Number)
                {
                    throw new FormatException($"candidate '{candidate.Name}' has no numeric 'quality'");
                }

                quality[_map.TryGetValue(candidate.Name, out var mapped) ? mapped : candidate.Name] = q.GetDouble();
            }

            return new EvidenceSample(task, quality);
        }
        catch (Exception exception) when (exception is JsonException or FormatException)
        {
            throw new FormatException($"{_path}:{number}: not a routing-dataset record: {exception.Message}", exception);
        }
    }
}
