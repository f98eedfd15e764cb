using System.Globalization;
using System.Text;

namespace ModelMix.Evaluation;

/// <summary>
/// Assigns each prompt to train (60%), calibration (20%) or test (20%) from a 64-bit FNV-1a hash (finished with splitmix64) of
/// <c>"{seed}:{id}"</c>: deterministic across machines and runs, independent of file order, and stable when prompts are
/// added or removed.
/// </summary>
internal static class DatasetSplitter
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
        var unit = Unit(seed.ToString(CultureInfo.InvariantCulture) + ":" + id);
        return unit < TrainShare ? DatasetSplit.Train
            : unit < TrainShare + CalibrationShare ? DatasetSplit.Calibration
            : DatasetSplit.Test;
    }

    /// <summary>
    /// The cross-fitting fold (0 to <paramref name="folds"/> − 1) of a prompt id under <paramref name="seed"/>: the same
    /// hash as the split, of <c>"fold:{seed}:{id}"</c>, so folds are independent of the split and of file order.
    /// </summary>
    /// <param name="id">The prompt's id.</param>
    /// <param name="seed">The seed.</param>
    /// <param name="folds">How many folds (at least 2).</param>
    public static int Fold(string id, int seed, int folds)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentOutOfRangeException.ThrowIfLessThan(folds, 2);
        return Math.Min(folds - 1, (int)(Unit("fold:" + seed.ToString(CultureInfo.InvariantCulture) + ":" + id) * folds));
    }

    private static double Unit(string key)
    {
        var bytes = Encoding.UTF8.GetBytes(key);
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
        return (hash >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>Whether a prompt id belongs to <paramref name="split"/> (always true for <see cref="DatasetSplit.All"/>).</summary>
    /// <param name="id">The prompt's id.</param>
    /// <param name="split">The wanted part.</param>
    /// <param name="seed">The split seed.</param>
    public static bool InSplit(string id, DatasetSplit split, int seed) => split switch
    {
        DatasetSplit.All => true,
        DatasetSplit.Development => Assign(id, seed) != DatasetSplit.Test,
        _ => Assign(id, seed) == split,
    };

    /// <summary>Whether two splits share prompts (<c>all</c> and <c>development</c> contain others).</summary>
    /// <param name="a">One split.</param>
    /// <param name="b">Another.</param>
    public static bool Overlap(DatasetSplit a, DatasetSplit b) =>
        a == b || a == DatasetSplit.All || b == DatasetSplit.All
        || (a == DatasetSplit.Development && b != DatasetSplit.Test) || (b == DatasetSplit.Development && a != DatasetSplit.Test);

    /// <summary>Parses a split name (<c>all</c>, <c>train</c>, <c>calibration</c>, <c>test</c>), case-insensitively.</summary>
    /// <param name="text">The name.</param>
    /// <exception cref="FormatException">Not a split name.</exception>
    public static DatasetSplit Parse(string text) =>
        Enum.TryParse<DatasetSplit>(text, ignoreCase: true, out var split) && Enum.IsDefined(split) && !int.TryParse(text, out _)
            ? split
            : throw new FormatException($"'{text}' is not a split (use all, train, calibration, test or development).");
}
