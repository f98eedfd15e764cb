using System.Diagnostics.Metrics;

namespace ModelMix.Routing;

/// <summary>
/// Counts what a <see cref="MetaRouterPolicy"/> did: classifications used, malformed ones that fell back, classifier
/// calls that failed. Thread-safe; also published as System.Diagnostics.Metrics counters on the
/// <see cref="MeterName"/> meter (<c>modelmix.meta_router.classified</c>, <c>modelmix.meta_router.malformed</c>,
/// <c>modelmix.meta_router.failed</c>).
/// </summary>
public sealed class MetaRouterStatistics
{
    /// <summary>The name of the meter the counters are published on.</summary>
    public const string MeterName = "ModelMix.Routing";

    /// <summary>The counter of malformed classifications.</summary>
    public const string MalformedCounterName = "modelmix.meta_router.malformed";

    /// <summary>The counter of classifications used as they were.</summary>
    public const string ClassifiedCounterName = "modelmix.meta_router.classified";

    /// <summary>The counter of classifier calls that threw.</summary>
    public const string FailedCounterName = "modelmix.meta_router.failed";

    private static readonly Meter s_meter = new(MeterName);
    private static readonly Counter<long> s_classified = s_meter.CreateCounter<long>(ClassifiedCounterName, description: "Meta-router classifications used as answered.");
    private static readonly Counter<long> s_malformed = s_meter.CreateCounter<long>(MalformedCounterName, description: "Meta-router classifications that were malformed and fell back to the default tier.");
    private static readonly Counter<long> s_failed = s_meter.CreateCounter<long>(FailedCounterName, description: "Meta-router classifier calls that failed.");

    private long _classified;
    private long _malformed;
    private long _failed;

    /// <summary>Classifications that named an allowed tier and were followed.</summary>
    public long Classified => Interlocked.Read(ref _classified);

    /// <summary>Classifications that were not JSON, named no tier or an unknown one.</summary>
    public long Malformed => Interlocked.Read(ref _malformed);

    /// <summary>Classifier calls that threw (the request fell back, or was declined).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    internal void OnClassified(string policy, string tier)
    {
        Interlocked.Increment(ref _classified);
        s_classified.Add(1, new KeyValuePair<string, object?>("modelmix.policy", policy), new KeyValuePair<string, object?>("modelmix.tier", tier));
    }

    internal void OnMalformed(string policy)
    {
        Interlocked.Increment(ref _malformed);
        s_malformed.Add(1, new KeyValuePair<string, object?>("modelmix.policy", policy));
    }

    internal void OnFailed(string policy, Exception exception)
    {
        Interlocked.Increment(ref _failed);
        s_failed.Add(1, new KeyValuePair<string, object?>("modelmix.policy", policy), new KeyValuePair<string, object?>("error.type", exception.GetType().Name));
    }
}
