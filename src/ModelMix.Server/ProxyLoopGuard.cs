using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The proxy's loop guard (<c>ModelMix:LoopGuard</c>), per session (<c>x-modelmix-session</c>): a step cap, a spend
/// cap per sliding minute, and a repeated-tool-call check read from the conversation the client sends (an agent that
/// keeps making the same call with the same input is looping). The session's total spend is capped by the budget
/// (<c>ModelMix:SessionBudgetUsd</c>). Sessions idle for <c>SessionIdleTimeout</c> are forgotten, so memory stays bounded.
/// </summary>
internal sealed class ProxyLoopGuard
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix:LoopGuard";

    /// <summary>The ledger error type of a tripped guard.</summary>
    public const string ErrorType = "loop_guard";

    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly int? _maxSteps;
    private readonly decimal? _maxSpendPerMinute;
    private readonly int? _maxRepeatedToolCalls;
    private readonly TimeSpan _idle;
    private long _checks;

    public ProxyLoopGuard(IConfiguration configuration, TimeProvider time)
    {
        _time = time;
        var section = configuration.GetSection(SectionName);
        _maxSteps = Read(section, "MaxStepsPerSession", int.Parse);
        _maxSpendPerMinute = Read(section, "MaxSpendPerMinuteUsd", text => decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture));
        _maxRepeatedToolCalls = Read(section, "MaxRepeatedToolCalls", int.Parse);
        _idle = Read(section, "SessionIdleTimeout", text => TimeSpan.Parse(text, CultureInfo.InvariantCulture)) ?? TimeSpan.FromMinutes(30);
        if (_maxSteps is < 1 || _maxRepeatedToolCalls is < 2 || _maxSpendPerMinute is <= 0m || _idle <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{SectionName}: MaxStepsPerSession must be ≥ 1, MaxRepeatedToolCalls ≥ 2, MaxSpendPerMinuteUsd > 0 and SessionIdleTimeout positive.");
        }
    }

    /// <summary>Whether any limit is configured.</summary>
    public bool Enabled => _maxSteps is not null || _maxSpendPerMinute is not null || _maxRepeatedToolCalls is not null;

    /// <summary>
    /// Counts one step of <paramref name="sessionId"/> and checks every limit; returns why the guard trips, or null.
    /// Requests without a session are not guarded (there is nothing to tie their steps together).
    /// </summary>
    /// <remarks>Sessions are per key (<see cref="SessionScope"/>): another key's session of the same name is another session.</remarks>
    public string? Check(string? keyId, string? sessionId, byte[] body)
    {
        if (sessionId is null || !Enabled)
        {
            return null;
        }

        var now = _time.GetUtcNow();
        if (Interlocked.Increment(ref _checks) % 1024 == 0)
        {
            Sweep(now);
        }

        var session = _sessions.GetOrAdd(SessionScope.Of(keyId, sessionId)!, _ => new Session());
        lock (session)
        {
            session.LastSeen = now;
            if (_maxSteps is { } maxSteps && session.Steps + 1 > maxSteps)
            {
                return $"loop guard: session '{sessionId}' reached its step limit ({maxSteps} requests, ModelMix:LoopGuard:MaxStepsPerSession).";
            }

            if (_maxSpendPerMinute is { } maxVelocity && session.SpendSince(now - TimeSpan.FromMinutes(1)) is var spent && spent >= maxVelocity)
            {
                return $"loop guard: session '{sessionId}' spent ${spent.ToString(CultureInfo.InvariantCulture)} in the last minute, at or over its limit of ${maxVelocity.ToString(CultureInfo.InvariantCulture)} (ModelMix:LoopGuard:MaxSpendPerMinuteUsd).";
            }

            if (_maxRepeatedToolCalls is { } maxRepeats && MostRepeatedToolCall(body) is { Count: var count, Name: var name } && count >= maxRepeats)
            {
                return $"loop guard: session '{sessionId}' called the tool '{name}' with the same input {count} times (limit {maxRepeats}, ModelMix:LoopGuard:MaxRepeatedToolCalls).";
            }

            session.Steps++;
            return null;
        }
    }

    /// <summary>Adds what a request of the session cost, for the per-minute limit.</summary>
    public void AddSpend(string? keyId, string? sessionId, decimal cost)
    {
        if (sessionId is null || _maxSpendPerMinute is null || cost <= 0m || !_sessions.TryGetValue(SessionScope.Of(keyId, sessionId)!, out var session))
        {
            return;
        }

        lock (session)
        {
            session.Spend.Enqueue((_time.GetUtcNow(), cost));
        }
    }

    private static (int Count, string Name) MostRepeatedToolCall(byte[] body)
    {
        using var document = JsonDocument.Parse(body);
        if (!document.RootElement.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
        {
            return (0, string.Empty);
        }

        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var best = (Count: 0, Name: string.Empty);
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
            {
                continue;
            }

            foreach (var block in content.EnumerateArray())
            {
                if (block.ValueKind == JsonValueKind.Object && block.TryGetProperty("type", out var type) && type.ValueEquals("tool_use"u8)
                    && block.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
                {
                    var input = block.TryGetProperty("input", out var value) ? JsonSerializer.Serialize(value) : "{}";
                    var key = name.GetString() + "\u0000" + input;
                    var count = counts[key] = counts.GetValueOrDefault(key) + 1;
                    if (count > best.Count)
                    {
                        best = (count, name.GetString()!);
                    }
                }
            }
        }

        return best;
    }

    private void Sweep(DateTimeOffset now)
    {
        foreach (var (id, session) in _sessions)
        {
            if (now - session.LastSeen > _idle)
            {
                _sessions.TryRemove(id, out _);
            }
        }
    }

    private static T? Read<T>(IConfigurationSection section, string key, Func<string, T> parse)
        where T : struct
    {
        if (section[key] is not { Length: > 0 } text)
        {
            return null;
        }

        try
        {
            return parse(text);
        }
        catch (Exception exception) when (exception is FormatException or OverflowException)
        {
            throw new InvalidOperationException($"{section.Path}:{key} is '{text}', which is not a valid value.", exception);
        }
    }

    private sealed class Session
    {
        public int Steps { get; set; }

        public DateTimeOffset LastSeen { get; set; }

        public Queue<(DateTimeOffset At, decimal Cost)> Spend { get; } = new();

        public decimal SpendSince(DateTimeOffset from)
        {
            while (Spend.TryPeek(out var oldest) && oldest.At < from)
            {
                Spend.Dequeue();
            }

            var total = 0m;
            foreach (var (_, cost) in Spend)
            {
                total += cost;
            }

            return total;
        }
    }
}
