using System.Collections.Concurrent;

namespace ModelMix.Telemetry;

/// <summary>
/// Bounds the values one metric label takes when callers choose them (a model id the catalog does not know, a task
/// label, an upstream's error type): the first <see cref="Capacity"/> distinct values are kept, matched in any casing
/// (the first spelling seen is the label), and every later one is counted as <see cref="Other"/>. Each value is one
/// series per instrument in every scrape, so without a bound a caller sending made-up names grows <c>/metrics</c>
/// without limit and pushes real series into the exporter's overflow.
/// </summary>
internal sealed class BoundedLabel
{
    /// <summary>The label value that stands for every value past the bound (and for one longer than <see cref="MaxLength"/>).</summary>
    public const string Other = "other";

    /// <summary>The longest value kept as it is.</summary>
    public const int MaxLength = 128;

    private readonly ConcurrentDictionary<string, string> _values = new(StringComparer.OrdinalIgnoreCase);
    private int _count;

    /// <summary>Creates a label that keeps at most <paramref name="capacity"/> distinct values.</summary>
    public BoundedLabel(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        Capacity = capacity;
    }

    /// <summary>How many distinct values are kept.</summary>
    public int Capacity { get; }

    /// <summary>The label for <paramref name="value"/>: itself (as first spelled), or <see cref="Other"/> past the bound.</summary>
    public string Of(string value) => _values.TryGetValue(value, out var label) ? label : Add(value);

    private string Add(string value)
    {
        if (value.Length > MaxLength || Volatile.Read(ref _count) >= Capacity)
        {
            return Other;
        }

        lock (_values)
        {
            if (_values.TryGetValue(value, out var label))
            {
                return label;
            }

            if (_count >= Capacity)
            {
                return Other;
            }

            _values[value] = value;
            Volatile.Write(ref _count, _count + 1);
            return value;
        }
    }
}
