using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using ModelMix.Pipeline;
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

    private readonly LoopGuard _guard;

    public ProxyLoopGuard(IConfiguration configuration, TimeProvider time)
    {
        var section = configuration.GetSection(SectionName);
        var maxSteps = Read(section, "MaxStepsPerSession", int.Parse);
        var maxSpendPerMinute = Read(section, "MaxSpendPerMinuteUsd", text => decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture));
        var maxRepeatedToolCalls = Read(section, "MaxRepeatedToolCalls", int.Parse);
        var idle = Read(section, "SessionIdleTimeout", text => TimeSpan.Parse(text, CultureInfo.InvariantCulture)) ?? TimeSpan.FromMinutes(30);
        if (maxSteps is < 1 || maxRepeatedToolCalls is < 2 || maxSpendPerMinute is <= 0m || idle <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{SectionName}: MaxStepsPerSession must be ≥ 1, MaxRepeatedToolCalls ≥ 2, MaxSpendPerMinuteUsd > 0 and SessionIdleTimeout positive.");
        }

        // The decisions are the library's (LoopGuard); this class reads the request and words the refusal.
        _guard = new LoopGuard(
            new LoopGuardOptions
            {
                MaxStepsPerSession = maxSteps,
                MaxSpendPerWindow = maxSpendPerMinute,
                SpendWindow = TimeSpan.FromMinutes(1),
                MaxRepeatedToolCalls = maxRepeatedToolCalls,
                SessionIdleTimeout = idle,
            },
            time);
    }

    /// <summary>Whether any limit is configured.</summary>
    public bool Enabled => _guard.Enabled;

    /// <summary>
    /// Counts one step of <paramref name="sessionId"/> and checks every limit; returns why the guard trips, or null.
    /// Requests without a session are not guarded (there is nothing to tie their steps together).
    /// </summary>
    /// <remarks>Sessions are per key (<see cref="SessionScope"/>): another key's session of the same name is another session.</remarks>
    public string? Check(string? keyId, string? sessionId, byte[] body)
    {
        if (!_guard.Enabled || _guard.SessionOf(sessionId) is not { } session)
        {
            return null;
        }

        var repeated = _guard.Options.MaxRepeatedToolCalls is null ? ((int, string)?)null : MostRepeatedToolCall(body);
        return _guard.Begin(keyId, session, out _, repeated) is { } trip ? Describe(trip) : null;
    }

    /// <summary>Adds what a request of the session cost, for the spend limits.</summary>
    public void AddSpend(string? keyId, string? sessionId, decimal cost)
    {
        if (_guard.Options.MaxSpendPerWindow is not null || _guard.Options.MaxSpendPerSession is not null)
        {
            _guard.AddSpend(keyId, _guard.SessionOf(sessionId), cost);
        }
    }

    /// <summary>The proxy's wording of a trip: what was hit and the key that sets it.</summary>
    private string Describe(LoopGuardTrip trip)
    {
        var inv = CultureInfo.InvariantCulture;
        return trip.Limit switch
        {
            LoopGuardLimit.Steps => string.Format(inv, "loop guard: session '{0}' reached its step limit ({1:0} requests, {2}:MaxStepsPerSession).", trip.SessionId, trip.LimitValue, SectionName),
            LoopGuardLimit.Spend => string.Format(inv, "loop guard: session '{0}' spent ${1}, at or over its limit of ${2} per session ({3}:MaxSpendPerSession).", trip.SessionId, trip.Observed, trip.LimitValue, SectionName),
            LoopGuardLimit.SpendVelocity => string.Format(inv, "loop guard: session '{0}' spent ${1} in the last {2}, at or over its limit of ${3} ({4}).", trip.SessionId, trip.Observed, WindowText(_guard.Options.SpendWindow), trip.LimitValue, WindowKey),
            _ => string.Format(inv, "loop guard: session '{0}' called the tool '{1}' with the same input {2:0} times (limit {3:0}, {4}:MaxRepeatedToolCalls).", trip.SessionId, trip.FunctionName, trip.Observed, trip.LimitValue, SectionName),
        };
    }

    private static string WindowKey => $"{SectionName}:MaxSpendPerMinuteUsd";

    private static string WindowText(TimeSpan window) =>
        window == TimeSpan.FromMinutes(1) ? "minute" : window.ToString("c", CultureInfo.InvariantCulture);

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
}
