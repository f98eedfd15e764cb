using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Pipeline;

/// <summary>
/// Options of the loop guard (<see cref="LoopGuardChatClient"/>): limits per session (the
/// <see cref="ModelMixChatOptions.SessionIdKey"/> of each call). A <c>null</c> limit is off. The defaults stop a
/// runaway agent (25 calls, the same tool call 3 times) without capping spend, which only the app can size.
/// </summary>
public sealed class LoopGuardOptions
{
    /// <summary>The most model calls one session may make; the next one is refused. Default 25.</summary>
    public int? MaxStepsPerSession { get; set; } = 25;

    /// <summary>The most one session may spend (USD, priced from each response's usage); once reached, further calls are refused.</summary>
    public decimal? MaxSpendPerSession { get; set; }

    /// <summary>The most one session may spend (USD) within <see cref="SpendWindow"/>; once reached, calls are refused until older spend leaves the window.</summary>
    public decimal? MaxSpendPerWindow { get; set; }

    /// <summary>The sliding window of <see cref="MaxSpendPerWindow"/>. Default one minute.</summary>
    public TimeSpan SpendWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How many times a session's model may ask for the same function with the same arguments; the call that reaches
    /// this count trips the guard before the tool runs again. Default 3.
    /// </summary>
    public int? MaxRepeatedToolCalls { get; set; } = 3;

    /// <summary>How long a session is remembered after its last call; idle sessions are forgotten so memory stays bounded. Default 30 minutes.</summary>
    public TimeSpan SessionIdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Whether calls without a session id are guarded together under <see cref="AnonymousSessionId"/>. Default <c>false</c>: they pass unguarded.</summary>
    public bool GuardCallsWithoutSession { get; set; }

    /// <summary>The session id used for calls without one, when <see cref="GuardCallsWithoutSession"/> is set.</summary>
    public string AnonymousSessionId { get; set; } = "(no session)";

    /// <summary>
    /// Prices each response's usage. When <c>null</c>: the price book of the <see cref="Recorder"/>, else the
    /// <see cref="PriceBook.Default"/>.
    /// </summary>
    public PriceBook? Prices { get; set; }

    /// <summary>
    /// Records a trip in the ledger (status <see cref="LedgerStatus.Error"/>, error type <c>loop_guard</c>). When
    /// <c>null</c>: the one the inner pipeline exposes (a ledger stage below), else the one registered in the services;
    /// with none, trips are only thrown and logged.
    /// </summary>
    public AttemptRecorder? Recorder { get; set; }

    /// <summary>The clock of the spend window and of session expiry. When <c>null</c>: the services' one, else the system clock.</summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>The proxy's old name of <see cref="MaxSpendPerWindow"/> (with a one-minute window), accepted for one release.</summary>
    internal const string ObsoleteSpendPerMinuteKey = "MaxSpendPerMinuteUsd";

    /// <summary>Old key names the configuration used (accepted for one release; each door warns at start).</summary>
    internal List<string> ObsoleteKeys { get; } = [];

    /// <summary>Throws when an option is out of range, naming it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive, or a time span is not positive.</exception>
    /// <exception cref="ArgumentException">The anonymous session id is blank.</exception>
    [Obsolete("Checked at start by its IValidateOptions validator (registered by AddModelMix and the proxy); this method goes in the next release.")]
    public void Validate() => LoopGuardOptionsValidator.ThrowIfInvalid(this);
}
