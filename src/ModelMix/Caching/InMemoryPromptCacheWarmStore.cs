using System.Collections.Concurrent;

namespace ModelMix.Caching;

/// <summary>
/// The in-process <see cref="IPromptCacheWarmStore"/>: a concurrent dictionary whose expired entries are dropped when
/// read and swept when the store grows past <see cref="SweepThreshold"/> sessions.
/// </summary>
public sealed class InMemoryPromptCacheWarmStore : IPromptCacheWarmStore
{
    /// <summary>The number of sessions above which a write first removes the expired entries.</summary>
    public const int SweepThreshold = 10_000;

    private readonly ConcurrentDictionary<string, PromptCacheWarmth> _sessions = new(StringComparer.Ordinal);

    /// <summary>The number of sessions held (expired ones included until swept).</summary>
    public int Count => _sessions.Count;

    /// <inheritdoc />
    public ValueTask<PromptCacheWarmth?> GetAsync(string sessionId, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        if (!_sessions.TryGetValue(sessionId, out var warmth))
        {
            return ValueTask.FromResult<PromptCacheWarmth?>(null);
        }

        if (warmth.ExpiresAt <= now)
        {
            _sessions.TryRemove(new KeyValuePair<string, PromptCacheWarmth>(sessionId, warmth));
            return ValueTask.FromResult<PromptCacheWarmth?>(null);
        }

        return ValueTask.FromResult<PromptCacheWarmth?>(warmth);
    }

    /// <inheritdoc />
    public ValueTask SetAsync(string sessionId, PromptCacheWarmth warmth, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        ArgumentNullException.ThrowIfNull(warmth);
        if (_sessions.Count >= SweepThreshold)
        {
            Sweep(warmth.ExpiresAt - TimeSpan.FromHours(1));
        }

        _sessions[sessionId] = warmth;
        return ValueTask.CompletedTask;
    }

    /// <summary>Removes the entries expired at <paramref name="now"/> (also done on its own when the store grows).</summary>
    /// <returns>How many entries were removed.</returns>
    public int Prune(DateTimeOffset now) => Sweep(now);

    private int Sweep(DateTimeOffset before)
    {
        var removed = 0;
        foreach (var (session, entry) in _sessions)
        {
            if (entry.ExpiresAt <= before && _sessions.TryRemove(new KeyValuePair<string, PromptCacheWarmth>(session, entry)))
            {
                removed++;
            }
        }

        return removed;
    }
}
