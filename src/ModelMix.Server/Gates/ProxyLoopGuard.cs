using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Hosting;
using ModelMix.Pipeline;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The proxy's loop guard (<c>ModelMix:LoopGuard</c>, the same keys as the library's <c>UseModelMixLoopGuard</c>), per
/// session (<c>x-modelmix-session</c>): a step cap, a spend cap per session and per sliding window, and a
/// repeated-tool-call check read from the conversation the client sends (an agent that keeps making the same call with
/// the same input is looping). Sessions idle for <c>SessionIdleTimeout</c> are forgotten, so memory stays bounded. The
/// decisions are the library's <see cref="LoopGuard"/>; this adapter reads the request and words the 400.
/// </summary>
internal sealed partial class ProxyLoopGuard
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix:LoopGuard";

    /// <summary>The ledger error type of a tripped guard.</summary>
    public const string ErrorType = "loop_guard";

    private static readonly LoopGuardOptions Off = new() { MaxStepsPerSession = null, MaxRepeatedToolCalls = null };

    private readonly LoopGuard _guard;

    /// <summary>Creates the guard.</summary>
    /// <param name="options">The limits (<c>ModelMix:LoopGuard</c>, bound and validated as in the library), or null when the section is absent: the guard is off.</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">Warns about old key names at start.</param>
    public ProxyLoopGuard(LoopGuardOptions? options, TimeProvider time, ILogger<ProxyLoopGuard> logger)
    {
        // The decisions are the library's (LoopGuard); this class reads the request and words the refusal.
        _guard = new LoopGuard(options ?? Off, time);
        foreach (var key in options?.ObsoleteKeys ?? [])
        {
            ObsoleteKey(logger, SectionName, key, "use MaxSpendPerWindow (and SpendWindow, one minute by default)");
        }
    }

    /// <summary>
    /// Registers <see cref="LoopGuardOptions"/> from <c>ModelMix:LoopGuard</c> (the library's binder and validator,
    /// checked at start) and the guard: on when the section is present (as <c>UseModelMix</c> adds the library's
    /// stage), with the library's defaults for the limits it does not set.
    /// </summary>
    public static void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        var configured = configuration.GetSection(SectionName).Exists();
        ModelMixSections.Add<LoopGuardOptions>(services, configuration);
        services.AddSingleton<IValidateOptions<LoopGuardOptions>, LoopGuardOptionsValidator>(); // the library's, as AddModelMix registers it
        services.AddSingleton(provider => new ProxyLoopGuard(
            configured ? provider.GetRequiredService<IOptions<LoopGuardOptions>>().Value : null,
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<ProxyLoopGuard>>()));
    }

    [LoggerMessage(9601, LogLevel.Warning, "{Section}: the key {Key} is an old name, accepted for this release only: {Instead}.")]
    internal static partial void ObsoleteKey(ILogger logger, string section, string key, string instead);

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

    private string WindowKey => _guard.Options.ObsoleteKeys.Count > 0 ? $"{SectionName}:MaxSpendPerMinuteUsd" : $"{SectionName}:MaxSpendPerWindow";

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

}
