using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>
/// Watches which tiers the routed calls go to and alerts when a tier's share of recent calls passes its bound (e.g.
/// Opus above 20%): a routing rule or a threshold has drifted and the bill with it. Alerts once per crossing; the share
/// must fall back below the bound minus <see cref="TierDriftOptions.Hysteresis"/> before a new crossing alerts again.
/// </summary>
/// <remarks>
/// Call <see cref="Observe"/> with each routed model (the <c>UseModelMixTierDrift</c> stage does it for a pipeline).
/// Thread-safe; events are raised after the monitor's lock is released, on the observing thread, and a throwing
/// handler does not fail the call that observed.
/// </remarks>
public sealed class TierDriftMonitor
{
    private readonly Lock _gate = new();
    private readonly TierDriftOptions _options;
    private readonly Dictionary<string, double> _bounds;
    private readonly TimeProvider _time;
    private readonly PriceBook _prices;
    private readonly ILogger _logger;
    private readonly Queue<(DateTimeOffset At, string Tier)> _window = new();
    private readonly Dictionary<string, int> _counts = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _exceeded = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates a monitor.</summary>
    /// <param name="options">Bounds and window; validated here.</param>
    /// <param name="logger">Logs a warning per crossing; nothing is logged when <c>null</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public TierDriftMonitor(TierDriftOptions options, ILogger<TierDriftMonitor>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        TierDriftOptionsValidator.ThrowIfInvalid(options);
        _options = options;
        _bounds = new Dictionary<string, double>(options.MaxShare, StringComparer.OrdinalIgnoreCase);
        _time = options.TimeProvider ?? TimeProvider.System;
        _prices = options.Prices ?? PriceBook.Default;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>Raised when a tier's share passes its bound (once per crossing).</summary>
    public event EventHandler<TierDriftAlert>? TierShareExceeded;

    /// <summary>Raised when a tier that exceeded its bound falls back below the bound minus the hysteresis margin.</summary>
    public event EventHandler<TierDriftAlert>? TierShareRecovered;

    /// <summary>Records one call routed to <paramref name="model"/> and raises the alerts it causes.</summary>
    /// <param name="model">The model (id, dated id or alias) the call was routed to.</param>
    public void Observe(string model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        var tier = TierOf(model);
        var now = _time.GetUtcNow();
        List<(TierDriftAlert Alert, bool Exceeded)>? raised = null;
        lock (_gate)
        {
            _window.Enqueue((now, tier));
            _counts[tier] = _counts.GetValueOrDefault(tier) + 1;
            Trim(now);
            if (_window.Count >= _options.MinCalls)
            {
                foreach (var (bounded, bound) in _bounds)
                {
                    var calls = _counts.GetValueOrDefault(bounded);
                    var share = (double)calls / _window.Count;
                    var alert = new TierDriftAlert(bounded, share, bound, calls, _window.Count, now);
                    if (share > bound && _exceeded.Add(bounded))
                    {
                        (raised ??= []).Add((alert, true));
                    }
                    else if (share <= bound - _options.Hysteresis && _exceeded.Remove(bounded))
                    {
                        (raised ??= []).Add((alert, false));
                    }
                }
            }
        }

        if (raised is null)
        {
            return;
        }

        foreach (var (alert, exceeded) in raised)
        {
            if (exceeded)
            {
                TierDriftLog.Exceeded(_logger, alert.Tier, alert.Share, alert.WindowCalls, alert.Bound);
            }
            else
            {
                TierDriftLog.Recovered(_logger, alert.Tier, alert.Share, alert.WindowCalls, alert.Bound);
            }

            Raise(exceeded ? TierShareExceeded : TierShareRecovered, alert);
        }
    }

    /// <summary>Each tier's share of the calls now in the window (calls older than the window duration are dropped first).</summary>
    public IReadOnlyDictionary<string, double> GetShares()
    {
        lock (_gate)
        {
            Trim(_time.GetUtcNow());
            var total = _window.Count;
            return _counts.ToDictionary(static p => p.Key, p => total == 0 ? 0d : (double)p.Value / total, StringComparer.OrdinalIgnoreCase);
        }
    }

    /// <summary>The calls now in the window.</summary>
    public int WindowCount
    {
        get
        {
            lock (_gate)
            {
                Trim(_time.GetUtcNow());
                return _window.Count;
            }
        }
    }

    /// <summary>The tiers that are past their bound (alerted and not yet recovered).</summary>
    public IReadOnlyCollection<string> ExceededTiers
    {
        get
        {
            lock (_gate)
            {
                return [.. _exceeded];
            }
        }
    }

    /// <summary>The tier of <paramref name="model"/>, as the monitor counts it.</summary>
    /// <param name="model">A model id, dated id or alias.</param>
    public string TierOf(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (_options.TierOf is { } map)
        {
            return map(model);
        }

        if (_prices.TryGetEntry(model, out var entry) && entry.Family is { Length: > 0 } family)
        {
            return family;
        }

        foreach (var tier in (ReadOnlySpan<string>)["haiku", "sonnet", "opus"])
        {
            if (model.Contains(tier, StringComparison.OrdinalIgnoreCase))
            {
                return tier;
            }
        }

        return model;
    }

    private void Trim(DateTimeOffset now)
    {
        var cutoff = _options.WindowDuration is { } duration ? now - duration : DateTimeOffset.MinValue;
        while (_window.TryPeek(out var oldest) && (_window.Count > _options.WindowCalls || oldest.At <= cutoff))
        {
            _window.Dequeue();
            if (--_counts[oldest.Tier] == 0)
            {
                _counts.Remove(oldest.Tier);
            }
        }
    }

    private void Raise(EventHandler<TierDriftAlert>? handler, TierDriftAlert alert)
    {
        if (handler is null)
        {
            return;
        }

        try
        {
            handler(this, alert);
        }
        catch (Exception exception)
        {
            // An alert handler's failure must not fail the call that was observed.
            TierDriftLog.HandlerFailed(_logger, exception, alert.Tier);
        }
    }
}
