using System.Collections.Frozen;

namespace ModelMix.Routing;

/// <summary>
/// The per-task prior of a learned router: per task label, the mean quality gap between the top tier and each cheaper
/// tier on the training data, shrunk towards the mean over all labels by <see cref="Strength"/> pseudo-examples. It
/// is a feature of the linear scorers, a scorer of its own, and the fallback for a task label the training data did
/// not have (and for requests without one): those get the overall mean. Looking a label up allocates nothing.
/// </summary>
internal sealed class LearnedTaskPrior
{
    private readonly FrozenDictionary<string, LearnedTaskPriorEntry> _tasks;

    /// <summary>Creates a prior.</summary>
    /// <param name="cheapGain">The mean gap, top minus cheap, over every training example.</param>
    /// <param name="midGain">The mean gap, top minus mid (0 without a middle tier).</param>
    /// <param name="strength">The pseudo-examples of the overall mean each task's mean was shrunk with.</param>
    /// <param name="tasks">Per task label (case-insensitive): its examples and shrunk gaps.</param>
    public LearnedTaskPrior(double cheapGain, double midGain, double strength, IReadOnlyDictionary<string, LearnedTaskPriorEntry> tasks)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        CheapGain = cheapGain;
        MidGain = midGain;
        Strength = strength;
        _tasks = tasks.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>A prior that knows no task (every request gets a gap of 0).</summary>
    public static LearnedTaskPrior Empty { get; } = new(0, 0, 0, new Dictionary<string, LearnedTaskPriorEntry>());

    /// <summary>The mean gap, top minus cheap, over every training example (the fallback).</summary>
    public double CheapGain { get; }

    /// <summary>The mean gap, top minus mid, over every training example (the fallback).</summary>
    public double MidGain { get; }

    /// <summary>How many pseudo-examples of the overall mean each task's mean was shrunk with.</summary>
    public double Strength { get; }

    /// <summary>The task labels the training data had.</summary>
    public IReadOnlyDictionary<string, LearnedTaskPriorEntry> Tasks => _tasks;

    /// <summary>The gaps of a task label: its own when the training data had it, else the overall mean.</summary>
    /// <param name="task">The request's task label, or null.</param>
    public (double Cheap, double Mid) Lookup(string? task) =>
        task is not null && _tasks.TryGetValue(task, out var entry) ? (entry.CheapGain, entry.MidGain) : (CheapGain, MidGain);

    /// <summary>Fits the prior to per-example targets (gaps, −1 to 1).</summary>
    /// <param name="tasks">Each example's task label (null: none).</param>
    /// <param name="cheap">Each example's top-minus-cheap target.</param>
    /// <param name="mid">Each example's top-minus-mid target.</param>
    /// <param name="strength">Pseudo-examples of the overall mean per task.</param>
    public static LearnedTaskPrior Fit(IReadOnlyList<string?> tasks, IReadOnlyList<double> cheap, IReadOnlyList<double> mid, double strength)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        ArgumentNullException.ThrowIfNull(cheap);
        ArgumentNullException.ThrowIfNull(mid);
        var n = tasks.Count;
        var globalCheap = n == 0 ? 0 : cheap.Average();
        var globalMid = n == 0 ? 0 : mid.Average();
        var sums = new Dictionary<string, (int Count, double Cheap, double Mid)>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < n; i++)
        {
            if (tasks[i] is not { Length: > 0 } task)
            {
                continue;
            }

            var (count, c, m) = sums.GetValueOrDefault(task);
            sums[task] = (count + 1, c + cheap[i], m + mid[i]);
        }

        var entries = sums.ToDictionary(
            pair => pair.Key,
            pair => new LearnedTaskPriorEntry(
                pair.Value.Count,
                (pair.Value.Cheap + (strength * globalCheap)) / (pair.Value.Count + strength),
                (pair.Value.Mid + (strength * globalMid)) / (pair.Value.Count + strength)),
            StringComparer.OrdinalIgnoreCase);
        return new LearnedTaskPrior(globalCheap, globalMid, strength, entries);
    }
}
