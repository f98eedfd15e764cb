namespace ModelMix.Pipeline;

/// <summary>What the loop guard remembers of one session. Every member is used under <see cref="Gate"/>.</summary>
internal sealed class LoopGuardSession(string id, DateTimeOffset now)
{
    private readonly Queue<(DateTimeOffset At, decimal Cost)> _recent = new();
    private decimal _recentTotal;

    /// <summary>Serializes access to the session.</summary>
    public Lock Gate { get; } = new();

    /// <summary>The session id.</summary>
    public string Id { get; } = id;

    /// <summary>Model calls started (including ones that failed).</summary>
    public int Steps { get; set; }

    /// <summary>Priced spend of every response so far, in USD.</summary>
    public decimal Spend { get; private set; }

    /// <summary>When the session was last used.</summary>
    public DateTimeOffset LastSeen { get; set; } = now;

    /// <summary>How many times each tool-call fingerprint was asked for.</summary>
    public Dictionary<string, int> ToolCalls { get; } = new(StringComparer.Ordinal);

    /// <summary>Adds the cost of a response made at <paramref name="at"/>.</summary>
    public void AddSpend(DateTimeOffset at, decimal cost)
    {
        Spend += cost;
        if (cost > 0)
        {
            _recent.Enqueue((at, cost));
            _recentTotal += cost;
        }
    }

    /// <summary>The spend within <paramref name="window"/> before <paramref name="now"/>; older entries are dropped.</summary>
    public decimal SpendWithin(TimeSpan window, DateTimeOffset now)
    {
        var cutoff = now - window;
        while (_recent.TryPeek(out var oldest) && oldest.At <= cutoff)
        {
            _recent.Dequeue();
            _recentTotal -= oldest.Cost;
        }

        return _recentTotal;
    }
}
