using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>
/// Options of <see cref="TierDriftMonitor"/>: the bound on each tier's share of calls, the window the shares are
/// measured over, and how far a share must fall back before a new crossing alerts again.
/// </summary>
public sealed class TierDriftOptions
{
    /// <summary>The most share of calls (0 to 1) each tier may take before an alert, e.g. <c>["opus"] = 0.20</c>. Tiers not listed are not bounded.</summary>
    public IDictionary<string, double> MaxShare { get; } = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The window holds at most this many of the most recent calls. Default 100.</summary>
    public int WindowCalls { get; set; } = 100;

    /// <summary>When set, the window also drops calls older than this (e.g. 10 minutes). Default <c>null</c>: by count only.</summary>
    public TimeSpan? WindowDuration { get; set; }

    /// <summary>No alert while the window holds fewer calls than this (the first Opus call is not 100% Opus). Default 20.</summary>
    public int MinCalls { get; set; } = 20;

    /// <summary>After an alert, the tier's share must fall to its bound minus this margin before a new crossing alerts again. Default 0.02.</summary>
    public double Hysteresis { get; set; } = 0.02;

    /// <summary>Maps a model id to its tier. When <c>null</c>: the price book's family of the model, else <c>haiku</c>/<c>sonnet</c>/<c>opus</c> found in the id, else the id.</summary>
    public Func<string, string>? TierOf { get; set; }

    /// <summary>The price book whose model families name the tiers; <see cref="PriceBook.Default"/> when <c>null</c>.</summary>
    public PriceBook? Prices { get; set; }

    /// <summary>The clock of <see cref="WindowDuration"/> and of alert timestamps; the system clock when <c>null</c>.</summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>Throws when an option is out of range, naming it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A bound is outside (0, 1], or a size or duration is not positive.</exception>
    [Obsolete("Checked at start by its IValidateOptions validator (registered by AddModelMix and the proxy); this method goes in the next release.")]
    public void Validate() => TierDriftOptionsValidator.ThrowIfInvalid(this);
}
