using Microsoft.Extensions.Options;

namespace ModelMix.Ledger;

/// <summary>The span of raw rows one retention export file covers.</summary>
public enum LedgerRetentionPeriod
{
    /// <summary>One UTC month per file (<c>ledger-2026-09.jsonl</c>); on PostgreSQL the month's partition is dropped whole.</summary>
    Month,

    /// <summary>One UTC day per file (<c>ledger-2026-09-14.jsonl</c>): smaller steps of disk, rows deleted in batches.</summary>
    Day,
}

/// <summary>
/// <c>ModelMix:Ledger:Retention</c>: automatic export-then-prune of old raw ledger rows (docs/ledger.md, "Automatic
/// retention"), the same keys for <c>modelmix serve</c> and a library host (<c>AddModelMix</c>). Off by default: turning
/// it on deletes raw rows, so it needs an <see cref="ExportFolder"/> someone keeps.
/// </summary>
public sealed class LedgerRetentionOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "ModelMix:Ledger:Retention";

    /// <summary>
    /// The shortest <see cref="RawAge"/> allowed: 7 days. Budget settlement reads a request's raw rows for as long as a
    /// reclaimed hold is kept (7 days), batch results may arrive up to 36 h late, and the dashboard's session
    /// statistics read the last day: none of them may find their rows pruned.
    /// </summary>
    public static readonly TimeSpan MinRawAge = TimeSpan.FromDays(7);

    /// <summary>Whether retention runs. Default false (nothing is ever deleted unless asked).</summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// Raw rows are kept at least this long: a whole <see cref="Period"/> is exported and pruned once its end is this old,
    /// so up to <c>RawAge</c> plus one period of raw rows are stored. Default 90 days; at least <see cref="MinRawAge"/>.
    /// </summary>
    public TimeSpan RawAge { get; set; } = TimeSpan.FromDays(90);

    /// <summary>
    /// Where the export files go (created if missing). Required when <see cref="Enabled"/>. With several replicas on one
    /// PostgreSQL database it must be the same shared folder on all of them (only one runs retention at a time).
    /// </summary>
    public string? ExportFolder { get; set; }

    /// <summary>The export files' format: <c>Jsonl</c> (default) or <c>Csv</c>.</summary>
    public LedgerExportFormat Format { get; set; } = LedgerExportFormat.Jsonl;

    /// <summary>The span one export file covers: <c>Month</c> (default; PostgreSQL drops the month's partition) or <c>Day</c>.</summary>
    public LedgerRetentionPeriod Period { get; set; } = LedgerRetentionPeriod.Month;

    /// <summary>How often retention checks for a period to export and prune. Default 1 hour; 1 minute to 1 day.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The wait after the start before the first run. Default 1 minute; zero to 1 day.</summary>
    public TimeSpan FirstRunDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Rows deleted per transaction (the ledger writer waits at most one batch). Default 5,000; 1 to 100,000.</summary>
    public int BatchSize { get; set; } = 5_000;

    /// <summary>Describes every invalid option, naming its key; empty when the options are valid.</summary>
    public List<string> GetValidationFailures()
    {
        var failures = new List<string>();
        if (RawAge < MinRawAge || RawAge > TimeSpan.FromDays(36_500))
        {
            failures.Add($"{SectionName}:{nameof(RawAge)} must be at least {MinRawAge.TotalDays:0} days (budget settlement and late batch results read raw rows that young) and at most 100 years (was {RawAge}).");
        }

        if (Enabled && string.IsNullOrWhiteSpace(ExportFolder))
        {
            failures.Add($"{SectionName}:{nameof(ExportFolder)} must name the folder the exported raw rows are written to before they are pruned (retention is enabled).");
        }
        else if (ExportFolder is { Length: > 0 } folder && folder.AsSpan().IndexOfAny(Path.GetInvalidPathChars()) >= 0)
        {
            failures.Add($"{SectionName}:{nameof(ExportFolder)} is not a valid path (was '{folder}').");
        }

        if (!Enum.IsDefined(Format))
        {
            failures.Add($"{SectionName}:{nameof(Format)} must be Jsonl or Csv (was {Format}).");
        }

        if (!Enum.IsDefined(Period))
        {
            failures.Add($"{SectionName}:{nameof(Period)} must be Month or Day (was {Period}).");
        }

        if (Interval < TimeSpan.FromMinutes(1) || Interval > TimeSpan.FromDays(1))
        {
            failures.Add($"{SectionName}:{nameof(Interval)} must be between 00:01:00 and 1.00:00:00 (was {Interval}).");
        }

        if (FirstRunDelay < TimeSpan.Zero || FirstRunDelay > TimeSpan.FromDays(1))
        {
            failures.Add($"{SectionName}:{nameof(FirstRunDelay)} must be between 00:00:00 and 1.00:00:00 (was {FirstRunDelay}).");
        }

        if (BatchSize < 1 || BatchSize > 100_000)
        {
            failures.Add($"{SectionName}:{nameof(BatchSize)} must be between 1 and 100000 (was {BatchSize}).");
        }

        return failures;
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> naming every invalid option (<see cref="Validator"/>).</summary>
    [Obsolete("Checked at start by its IValidateOptions validator (registered by AddModelMix and the proxy); this method goes in the next release.")]
    public void Validate() => Validator.ThrowIfInvalid(this);

    /// <summary>Validates the options at start-up so a bad value fails fast, naming its key.</summary>
    public sealed class Validator : IValidateOptions<LedgerRetentionOptions>
    {
        /// <inheritdoc />
        public ValidateOptionsResult Validate(string? name, LedgerRetentionOptions options)
        {
            ArgumentNullException.ThrowIfNull(options);
            var failures = options.GetValidationFailures();
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }

        /// <summary>Throws <see cref="OptionsValidationException"/> naming every invalid option: for options built in code, not bound.</summary>
        internal static void ThrowIfInvalid(LedgerRetentionOptions options)
        {
            var failures = options.GetValidationFailures();
            if (failures.Count > 0)
            {
                throw new OptionsValidationException(Options.DefaultName, typeof(LedgerRetentionOptions), failures);
            }
        }
    }
}
