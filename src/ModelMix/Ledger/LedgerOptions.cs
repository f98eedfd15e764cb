using Microsoft.Extensions.Options;

namespace ModelMix.Ledger;

/// <summary>
/// Tunes the <see cref="BufferedLedger"/> writer: how many records may wait in memory, how long at most before they
/// are committed, and how a failing store is retried. The defaults suit a single proxy process.
/// </summary>
public sealed class LedgerOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "ModelMix:Ledger";

    /// <summary>
    /// How many records may wait in memory for commit. When full, <see cref="ILedger.RecordAsync"/> waits
    /// (backpressure); records are never dropped. Default 10,000; at least 1.
    /// </summary>
    public int Capacity { get; set; } = 10_000;

    /// <summary>
    /// The longest a record waits in memory before its batch is committed, and so the most a process kill can lose.
    /// Default 100 ms; more than zero and at most one hour.
    /// </summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The most records committed in one transaction. Default 1,000; at least 1.</summary>
    public int MaxBatchSize { get; set; } = 1_000;

    /// <summary>The first wait before retrying a failed commit; doubles on each failure. Default 100 ms; more than zero.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between retries of a failed commit. Default 5 s; at least <see cref="RetryBaseDelay"/>.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long disposing the ledger (a host's stop) waits for the buffered records to commit before it gives up on them
    /// (default 10 s, at most 10 minutes): it then logs how many were not committed and returns, so a store that does not
    /// answer (a lock held elsewhere, an unreachable server) never hangs the stop. An attempt whose record was not
    /// committed keeps its intent, which reconciliation settles as <c>outcome_unknown</c>, as after a crash
    /// (docs/ledger.md, "Crash consistency").
    /// </summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Throws <see cref="OptionsValidationException"/> naming every invalid option (<see cref="LedgerOptionsValidator"/>).</summary>
    [Obsolete("Checked at start by its IValidateOptions validator (registered by AddModelMix and the proxy); this method goes in the next release.")]
    public void Validate() => LedgerOptionsValidator.ThrowIfInvalid(this);

    /// <summary>Describes every invalid option, naming it; empty when the options are valid.</summary>
    internal List<string> GetValidationFailures()
    {
        var failures = new List<string>();
        if (Capacity < 1)
        {
            failures.Add($"{SectionName}:{nameof(Capacity)} must be at least 1 (was {Capacity}).");
        }

        if (MaxBatchSize < 1)
        {
            failures.Add($"{SectionName}:{nameof(MaxBatchSize)} must be at least 1 (was {MaxBatchSize}).");
        }

        if (FlushInterval <= TimeSpan.Zero || FlushInterval > TimeSpan.FromHours(1))
        {
            failures.Add($"{SectionName}:{nameof(FlushInterval)} must be more than zero and at most one hour (was {FlushInterval}).");
        }

        if (RetryBaseDelay <= TimeSpan.Zero)
        {
            failures.Add($"{SectionName}:{nameof(RetryBaseDelay)} must be more than zero (was {RetryBaseDelay}).");
        }

        if (StopTimeout <= TimeSpan.Zero || StopTimeout > TimeSpan.FromMinutes(10))
        {
            failures.Add($"{SectionName}:{nameof(StopTimeout)} must be more than zero and at most 10 minutes (was {StopTimeout}).");
        }

        if (RetryMaxDelay < RetryBaseDelay)
        {
            failures.Add($"{SectionName}:{nameof(RetryMaxDelay)} must be at least {nameof(RetryBaseDelay)} (was {RetryMaxDelay}).");
        }

        return failures;
    }
}
