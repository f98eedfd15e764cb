using ModelMix.Pipeline;

namespace ModelMix.Routing;

/// <summary>
/// Sets confidence-cascade thresholds that hit a target escalation rate, from logged first-tier confidences (as
/// RouteLLM calibrates its routers; see <see cref="ThresholdCalibrator"/>). Collects confidences as the cascade runs
/// (set <see cref="CascadeOptions.Calibration"/>) or from any log via <see cref="Record"/>; thread-safe. Each task
/// label keeps its most recent <see cref="CapacityPerTask"/> confidences.
/// </summary>
public sealed class CascadeCalibration
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Window> _byTask = new(StringComparer.OrdinalIgnoreCase);
    private readonly Window _all;

    /// <summary>Creates an empty calibration.</summary>
    /// <param name="capacityPerTask">How many recent confidences are kept per task label (and overall).</param>
    public CascadeCalibration(int capacityPerTask = 10_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityPerTask, 1);
        CapacityPerTask = capacityPerTask;
        _all = new Window(capacityPerTask);
    }

    /// <summary>How many recent confidences are kept per task label.</summary>
    public int CapacityPerTask { get; }

    /// <summary>Logs the first tier's confidence for one request.</summary>
    /// <param name="taskLabel">The request's task label; null or empty counts only toward the overall threshold.</param>
    /// <param name="confidence">The confidence, 0 to 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">The confidence is not a finite number from 0 to 1.</exception>
    public void Record(string? taskLabel, double confidence)
    {
        if (!(confidence >= 0 && confidence <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "A confidence must be between 0 and 1.");
        }

        lock (_gate)
        {
            _all.Add(confidence);
            if (!string.IsNullOrWhiteSpace(taskLabel))
            {
                if (!_byTask.TryGetValue(taskLabel, out var window))
                {
                    window = new Window(CapacityPerTask);
                    _byTask.Add(taskLabel, window);
                }

                window.Add(confidence);
            }
        }
    }

    /// <summary>The logged confidences of <paramref name="taskLabel"/>, or of every request when it is null.</summary>
    /// <param name="taskLabel">A task label, or null for all.</param>
    public IReadOnlyList<double> Confidences(string? taskLabel = null)
    {
        lock (_gate)
        {
            return taskLabel is null ? _all.ToArray()
                : _byTask.TryGetValue(taskLabel, out var window) ? window.ToArray()
                : [];
        }
    }

    /// <summary>
    /// The threshold per task label that escalates <paramref name="targetEscalationRate"/> of that task's requests,
    /// for every label with at least <paramref name="minSamples"/> logged confidences.
    /// </summary>
    /// <param name="targetEscalationRate">The share of requests to escalate, 0 to 1.</param>
    /// <param name="minSamples">Fewer confidences than this give no threshold (too little to go on).</param>
    public IReadOnlyDictionary<string, double> TaskThresholds(double targetEscalationRate, int minSamples = 30)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minSamples, 1);
        var result = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        lock (_gate)
        {
            foreach (var (label, window) in _byTask)
            {
                if (window.Count >= minSamples)
                {
                    result[label] = ThresholdCalibrator.ForTargetEscalationRate(window.ToArray(), targetEscalationRate);
                }
            }
        }

        return result;
    }

    /// <summary>
    /// The threshold over every logged confidence that escalates <paramref name="targetEscalationRate"/> of requests;
    /// null with fewer than <paramref name="minSamples"/>.
    /// </summary>
    /// <param name="targetEscalationRate">The share of requests to escalate, 0 to 1.</param>
    /// <param name="minSamples">The fewest confidences to calibrate from.</param>
    public double? OverallThreshold(double targetEscalationRate, int minSamples = 30)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minSamples, 1);
        double[] all;
        lock (_gate)
        {
            all = _all.ToArray();
        }

        return all.Length >= minSamples ? ThresholdCalibrator.ForTargetEscalationRate(all, targetEscalationRate) : null;
    }

    /// <summary>
    /// Sets <see cref="CascadeOptions.Threshold"/> and <see cref="CascadeOptions.TaskThresholds"/> from the logged
    /// confidences (where there are at least <paramref name="minSamples"/>); others are left as they were. A built
    /// cascade keeps the thresholds it was built with: apply before building, or build a new client.
    /// </summary>
    /// <param name="options">The options to change.</param>
    /// <param name="targetEscalationRate">The share of requests to escalate, 0 to 1.</param>
    /// <param name="minSamples">The fewest confidences to calibrate a threshold from.</param>
    /// <returns>The thresholds set per task label.</returns>
    public IReadOnlyDictionary<string, double> ApplyTo(CascadeOptions options, double targetEscalationRate, int minSamples = 30)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (OverallThreshold(targetEscalationRate, minSamples) is { } overall)
        {
            options.Threshold = Math.Clamp(overall, 0, 1);
        }

        var perTask = TaskThresholds(targetEscalationRate, minSamples);
        var target = options.TaskThresholds ??= new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        foreach (var (label, threshold) in perTask)
        {
            target[label] = Math.Clamp(threshold, 0, 1);
        }

        return perTask;
    }

    /// <summary>The threshold that escalates <paramref name="targetEscalationRate"/> of <paramref name="confidences"/>.</summary>
    /// <param name="confidences">Logged first-tier confidences.</param>
    /// <param name="targetEscalationRate">The share of requests to escalate, 0 to 1.</param>
    public static double ThresholdFor(IReadOnlyList<double> confidences, double targetEscalationRate) =>
        Math.Clamp(ThresholdCalibrator.ForTargetEscalationRate(confidences, targetEscalationRate), 0, 1);

    private sealed class Window(int capacity)
    {
        private readonly double[] _items = new double[capacity];
        private int _next;

        public int Count { get; private set; }

        public void Add(double value)
        {
            _items[_next] = value;
            _next = (_next + 1) % _items.Length;
            Count = Math.Min(Count + 1, _items.Length);
        }

        public double[] ToArray()
        {
            var result = new double[Count];
            var start = Count < _items.Length ? 0 : _next;
            for (var i = 0; i < Count; i++)
            {
                result[i] = _items[(start + i) % _items.Length];
            }

            return result;
        }
    }
}
