using System.Collections.Concurrent;

namespace ModelMix.Pipeline;

/// <summary>
/// The loop guard's decisions, once for both doors (the library's <see cref="LoopGuardChatClient"/> and the proxy's
/// <c>ProxyLoopGuard</c>): sessions per key (<see cref="Routing.SessionScope"/>), the step count, the session's spend
/// and its spend within a sliding window (<see cref="LoopGuardOptions.SpendWindow"/>), the repeated-tool-call count,
/// and forgetting idle sessions. It knows nothing of HTTP or of Microsoft.Extensions.AI: each door says what a request
/// is (a session id, a step, its cost, the tool calls it saw) and turns a <see cref="LoopGuardTrip"/> into its own
/// error (an exception, or a 400 in the client's format).
/// </summary>
/// <remarks>Thread-safe: each session is used under its own lock.</remarks>
internal sealed class LoopGuard
{
    private readonly ConcurrentDictionary<string, LoopGuardSession> _sessions = new(StringComparer.Ordinal);
    private readonly LoopGuardOptions _options;
    private readonly TimeProvider _time;
    private readonly TimeSpan _sweepInterval;
    private long _nextSweepTicks;

    /// <summary>Creates the guard.</summary>
    /// <param name="options">The limits (validated here).</param>
    /// <param name="time">The clock of the spend window and of session expiry.</param>
    /// <exception cref="ArgumentOutOfRangeException">A limit is out of range.</exception>
    public LoopGuard(LoopGuardOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        LoopGuardOptionsValidator.ThrowIfInvalid(options);
        _options = options;
        _time = time ?? TimeProvider.System;
        _sweepInterval = options.SessionIdleTimeout / 4;
        _nextSweepTicks = (_time.GetUtcNow() + _sweepInterval).UtcTicks;
    }

    /// <summary>The limits.</summary>
    public LoopGuardOptions Options => _options;

    /// <summary>The clock.</summary>
    public TimeProvider Time => _time;

    /// <summary>Whether any limit is set: with none, a door may skip the guard altogether.</summary>
    public bool Enabled =>
        _options.MaxStepsPerSession is not null || _options.MaxSpendPerSession is not null
        || _options.MaxSpendPerWindow is not null || _options.MaxRepeatedToolCalls is not null;

    /// <summary>The number of sessions currently remembered.</summary>
    public int SessionCount => _sessions.Count;

    /// <summary>
    /// The session a call is guarded under: its own id, else <see cref="LoopGuardOptions.AnonymousSessionId"/> when
    /// <see cref="LoopGuardOptions.GuardCallsWithoutSession"/> is set, else null (the call is not guarded).
    /// </summary>
    public string? SessionOf(string? sessionId) =>
        sessionId ?? (_options.GuardCallsWithoutSession ? _options.AnonymousSessionId : null);

    /// <summary>
    /// Starts one step of <paramref name="sessionId"/> (of <paramref name="keyId"/>'s sessions): checks, in order, the
    /// step limit, the session's spend, its spend within the window and (when the door read it from the request) the
    /// most repeated tool call; counts the step when none trips.
    /// </summary>
    /// <param name="keyId">The key the session belongs to, if any: sessions are per key.</param>
    /// <param name="sessionId">The session (see <see cref="SessionOf"/>).</param>
    /// <param name="session">The session's state, for <see cref="AddSpend(LoopGuardSession, decimal)"/> and <see cref="CountToolCalls"/>.</param>
    /// <param name="repeatedInRequest">The most repeated tool call the request itself carries (the proxy reads it from the conversation), if the door counts that way.</param>
    /// <returns>Why the step is refused, or null.</returns>
    public LoopGuardTrip? Begin(string? keyId, string sessionId, out LoopGuardSession session, (int Count, string Name)? repeatedInRequest = null)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        var now = _time.GetUtcNow();
        SweepIfDue(now);
        session = _sessions.GetOrAdd(Routing.SessionScope.Of(keyId, sessionId)!, static (_, state) => new LoopGuardSession(state.Session, state.At), (Session: sessionId, At: now));
        lock (session.Gate)
        {
            session.LastSeen = now;
            if (_options.MaxStepsPerSession is { } maxSteps && session.Steps + 1 > maxSteps)
            {
                return new LoopGuardTrip(LoopGuardLimit.Steps, sessionId, session.Steps + 1, maxSteps);
            }

            if (_options.MaxSpendPerSession is { } maxSpend && session.Spend >= maxSpend)
            {
                return new LoopGuardTrip(LoopGuardLimit.Spend, sessionId, session.Spend, maxSpend);
            }

            if (_options.MaxSpendPerWindow is { } maxVelocity && session.SpendWithin(_options.SpendWindow, now) is var recent && recent >= maxVelocity)
            {
                return new LoopGuardTrip(LoopGuardLimit.SpendVelocity, sessionId, recent, maxVelocity);
            }

            if (_options.MaxRepeatedToolCalls is { } maxRepeats && repeatedInRequest is { } repeated && repeated.Count >= maxRepeats)
            {
                return new LoopGuardTrip(LoopGuardLimit.RepeatedToolCall, sessionId, repeated.Count, maxRepeats, repeated.Name);
            }

            session.Steps++;
            return null;
        }
    }

    /// <summary>Adds what a step of <paramref name="session"/> cost (to its total and to the window).</summary>
    public void AddSpend(LoopGuardSession session, decimal cost)
    {
        ArgumentNullException.ThrowIfNull(session);
        var now = _time.GetUtcNow();
        lock (session.Gate)
        {
            session.LastSeen = now;
            session.AddSpend(now, cost);
        }
    }

    /// <summary>Adds what a step of a remembered session cost; a session not remembered (or a cost of zero) is ignored.</summary>
    public void AddSpend(string? keyId, string? sessionId, decimal cost)
    {
        if (sessionId is not null && cost > 0m && _sessions.TryGetValue(Routing.SessionScope.Of(keyId, sessionId)!, out var session))
        {
            AddSpend(session, cost);
        }
    }

    /// <summary>
    /// Counts the tool calls a response of <paramref name="session"/> asked for (by fingerprint: name and canonical
    /// arguments) against <see cref="LoopGuardOptions.MaxRepeatedToolCalls"/>, over the whole session.
    /// </summary>
    /// <returns>The first call that reached the limit, or null.</returns>
    public LoopGuardTrip? CountToolCalls(LoopGuardSession session, IEnumerable<(string Fingerprint, string Name)> calls)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(calls);
        if (_options.MaxRepeatedToolCalls is not { } maxRepeats)
        {
            return null;
        }

        LoopGuardTrip? trip = null;
        lock (session.Gate)
        {
            foreach (var (fingerprint, name) in calls)
            {
                var count = session.ToolCalls.TryGetValue(fingerprint, out var seen) ? seen + 1 : 1;
                session.ToolCalls[fingerprint] = count;
                if (count >= maxRepeats && trip is null)
                {
                    trip = new LoopGuardTrip(LoopGuardLimit.RepeatedToolCall, session.Id, count, maxRepeats, name);
                }
            }
        }

        return trip;
    }

    /// <summary>Forgets a session.</summary>
    /// <returns>Whether it was remembered.</returns>
    public bool Forget(string? keyId, string sessionId)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        return _sessions.TryRemove(Routing.SessionScope.Of(keyId, sessionId)!, out _);
    }

    private void SweepIfDue(DateTimeOffset now)
    {
        var due = Interlocked.Read(ref _nextSweepTicks);
        if (now.UtcTicks < due || Interlocked.CompareExchange(ref _nextSweepTicks, (now + _sweepInterval).UtcTicks, due) != due)
        {
            return;
        }

        var cutoff = now - _options.SessionIdleTimeout;
        foreach (var (id, session) in _sessions)
        {
            bool idle;
            lock (session.Gate)
            {
                idle = session.LastSeen <= cutoff;
            }

            if (idle)
            {
                _sessions.TryRemove(new KeyValuePair<string, LoopGuardSession>(id, session));
            }
        }
    }
}

/// <summary>Why the loop guard (<see cref="LoopGuard"/>) refused a step: the limit, the session, what was observed against the limit.</summary>
/// <param name="Limit">The limit hit.</param>
/// <param name="SessionId">The session that hit it.</param>
/// <param name="Observed">The step number, the spend in USD, or the number of identical calls.</param>
/// <param name="LimitValue">The configured limit, in the unit of <paramref name="Observed"/>.</param>
/// <param name="FunctionName">For <see cref="LoopGuardLimit.RepeatedToolCall"/>: the tool called repeatedly.</param>
internal readonly record struct LoopGuardTrip(LoopGuardLimit Limit, string SessionId, decimal Observed, decimal LimitValue, string? FunctionName = null);
