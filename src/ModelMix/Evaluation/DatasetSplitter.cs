using System.Globalization;
using System.Text;

namespace ModelMix.Evaluation;

/// <summary>
/// Assigns each prompt to train (60%), calibration (20%) or test (20%) from a 64-bit FNV-1a hash (finished with splitmix64) of
/// <c>"{seed}:{id}"</c>: deterministic across machines and runs, independent of file order, and stable when prompts are
/// added or removed.
/// </summary>
public static class DatasetSplitter
{
    /// <summary>The seed used when none is given.</summary>
    public const int DefaultSeed = 42;

    /// <summary>The share of prompts in <see cref="DatasetSplit.Train"/>.</summary>
    public const double TrainShare = 0.6;

    /// <summary>The share of prompts in <see cref="DatasetSplit.Calibration"/>.</summary>
    public const double CalibrationShare = 0.2;

    /// <summary>The split a prompt id falls into under <paramref name="seed"/> (never <see cref="DatasetSplit.All"/>).</summary>
    /// <param name="id">The prompt's id.</param>
    /// <param name="seed">The split seed.</param>
    public static DatasetSplit Assign(string id, int seed)
    {
        ArgumentNullException.ThrowIfNull(id);
        var bytes = Encoding.UTF8.GetBytes(seed.ToString(CultureInfo.InvariantCulture) + ":" + id);
        var hash = 14695981039346656037UL;
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        // FNV alone leaves the high bits poorly mixed for ids that differ only at the end: finish with splitmix64.
        hash ^= hash >> 30;
        hash *= 0xBF58476D1CE4E5B9UL;
        hash ^= hash >> 27;
        hash *= 0x94D049BB133111EBUL;
        hash ^= hash >> 31;
        var unit = (hash >> 11) * (1.0 / (1UL << 53));
        return unit < TrainShare ? DatasetSplit.Train
            : unit < TrainShare + CalibrationShare ? DatasetSplit.Calibration
            : DatasetSplit.Test;
    }

    /// <summary>Whether a prompt id belongs to <paramref name="split"/> (always true for <see cref="DatasetSplit.All"/>).</summary>
    /// <param name="id">The prompt's id.</param>
    /// <param name="split">The wanted part.</param>
    /// <param name="seed">The split seed.</param>
    public static bool InSplit(string id, DatasetSplit split, int seed) => split == DatasetSplit.All || Assign(id, seed) == split;

    /// <summary>Parses a split name (<c>all</c>, <c>train</c>, <c>calibration</c>, <c>test</c>), case-insensitively.</summary>
    /// <param name="text">The name.</param>
    /// <exception cref="FormatException">Not a split name.</exception>
    public static DatasetSplit Parse(string text) =>
        Enum.TryParse<DatasetSplit>(text, ignoreCase: true, out var split) && Enum.IsDefined(split) && !int.TryParse(text, out _)
            ? split
            : throw new FormatException($"'{text}' is not a split (use all, train, calibration or test).");
}
