using Microsoft.Extensions.AI;
using ModelMix.Budgets;
using ModelMix.Catalog;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Shadow;

/// <summary>
/// Options of shadow mode: which share of live traffic (per task label) is also sent to a candidate model, off the
/// hot path, how the two answers are compared, and the shadow budget. Bound in the proxy from <c>ModelMix:Shadow</c>.
/// </summary>
public sealed class ShadowOptions
{
    /// <summary>
    /// The candidate the sampled requests are also sent to (required): a model of the price book (id or alias, sent as
    /// written) or a tier (<c>haiku</c>, resolved to the tier's model at start, as routing targets and the fallback
    /// chain are), optionally with an effort (<c>opus@low</c>: the same request at that <c>output_config.effort</c>).
    /// Anything else is refused at start (<see cref="Validate(PriceBook, string)"/>).
    /// </summary>
    public string? CandidateModel { get; set; }

    /// <summary>The sampled share (0..1) for a task label without an entry in <see cref="Rates"/> (and for unlabelled requests). Default 0.</summary>
    public double DefaultRate { get; set; }

    /// <summary>The sampled share (0..1) per task label (case-insensitive).</summary>
    public Dictionary<string, double> Rates { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>How pairs are compared unless <see cref="ComparisonByTask"/> names the task. Default <see cref="ShadowComparison.Exact"/>.</summary>
    public ShadowComparison Comparison { get; set; } = ShadowComparison.Exact;

    /// <summary>The comparison per task label (case-insensitive).</summary>
    public Dictionary<string, ShadowComparison> ComparisonByTask { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The JSON fields compared by <see cref="ShadowComparison.Json"/> (dotted paths such as <c>address.city</c>); empty: every top-level field of either answer.</summary>
    public List<string> JsonFields { get; set; } = [];

    /// <summary>The judge model for <see cref="ShadowComparison.Judge"/>: a model of the price book or a tier (resolved at start).</summary>
    public string? JudgeModel { get; set; }

    /// <summary>The judge's instructions; it must answer with one number from 0 to 1.</summary>
    public string JudgePrompt { get; set; } =
        "You compare two answers to the same request. The reference answer is known to be good. Rate from 0 to 1 how " +
        "well the candidate answer would serve the user instead of the reference (1 = equally good or better, 0 = wrong or " +
        "useless). Reply with only the number.";

    /// <summary>Most output tokens the judge may write.</summary>
    public int JudgeMaxOutputTokens { get; set; } = 16;

    /// <summary>Longest text (in characters) of the request and of each answer given to the judge.</summary>
    public int JudgeMaxChars { get; set; } = 8000;

    /// <summary>Cap in USD on shadow spend (shadow and judge calls) per UTC day; null: none.</summary>
    public decimal? DailyBudgetUsd { get; set; }

    /// <summary>Cap in USD on all shadow spend ever; null: none.</summary>
    public decimal? TotalBudgetUsd { get; set; }

    /// <summary>Most shadow jobs waiting to run; when full, new ones are dropped (counted), never waited for.</summary>
    public int QueueCapacity { get; set; } = 256;

    /// <summary>Most shadow jobs running at once.</summary>
    public int MaxConcurrency { get; set; } = 2;

    /// <summary>
    /// How long a pair's hold on the shadow budget lasts before the budget sweep reclaims it (default 15 minutes; at
    /// least one second). A hold is released when its pair ends; one left by a process that died is reclaimed after
    /// this, charged what the ledger holds for the pair. Keep it above the candidate and judge calls' duration.
    /// </summary>
    public TimeSpan ReservationTtl { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How long stopping lets running shadow jobs finish (default 30 s; 0 to 10 minutes). Then their calls are cancelled,
    /// and each cancelled call is still recorded (at its worst case: it was sent and may be billed) before the stop ends.
    /// </summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Whether the prompt and both answers are stored with the pair (off by default: bodies are not stored).</summary>
    public bool StoreAnswers { get; set; }

    /// <summary>Applied to every text stored when <see cref="StoreAnswers"/> is on (e.g. to mask e-mail addresses).</summary>
    public Func<string, string>? Redact { get; set; }

    /// <summary>The budget store for <see cref="DailyBudgetUsd"/> / <see cref="TotalBudgetUsd"/> (scope <c>shadow</c>); required when a cap is set.</summary>
    public IBudgetStore? BudgetStore { get; set; }

    /// <summary>
    /// The ledger the shadow calls are recorded in, when it settles budget holds in its own transaction
    /// (<see cref="Ledger.ISettlingLedger.CanSettle"/>): a pair's shadow-budget hold is then settled to what the ledger
    /// holds for the pair, so the shadow budget equals the ledger by construction (docs/ledger.md "Crash consistency").
    /// Null: the hold is settled to the costs the runner read from the calls.
    /// </summary>
    internal Ledger.ISettlingLedger? SettlingLedger { get; set; }

    /// <summary>The judge client (library door); when null the shadow stage's inner client is used.</summary>
    public IChatClient? JudgeClient { get; set; }

    /// <summary>The clock; <see cref="System.TimeProvider.System"/> when null.</summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>Whether the configuration has this options' <c>ModelMix:*</c> section (set by its binder, ModelMix.Hosting.ModelMixSections): what turns the shadow checks at start and, with a candidate, shadow mode on.</summary>
    internal bool Configured { get; set; }

    /// <summary>The sampled share for <paramref name="taskLabel"/>.</summary>
    public double RateFor(string? taskLabel) =>
        taskLabel is not null && Rates.TryGetValue(taskLabel, out var rate) ? rate : DefaultRate;

    /// <summary>The comparison for <paramref name="taskLabel"/>.</summary>
    public ShadowComparison ComparisonFor(string? taskLabel) =>
        taskLabel is not null && ComparisonByTask.TryGetValue(taskLabel, out var method) ? method : Comparison;

    /// <summary>
    /// What is wrong with these options, including a <see cref="CandidateModel"/> or <see cref="JudgeModel"/> that
    /// <paramref name="prices"/> cannot resolve (<see cref="TryResolveModel"/>), each message naming the key under
    /// <paramref name="prefix"/>; empty when valid.
    /// </summary>
    public IReadOnlyList<string> Validate(PriceBook prices, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(prices);
        var errors = new List<string>(Validate(prefix));
        if (!string.IsNullOrWhiteSpace(CandidateModel) && !TryResolveModel(prices, CandidateModel, out _, out _))
        {
            errors.Add($"{prefix}CandidateModel '{CandidateModel}' {ModelProblem(prices, CandidateModel, effortAllowed: true)}");
        }

        if (!string.IsNullOrWhiteSpace(JudgeModel) && (!TryResolveModel(prices, JudgeModel, out _, out var judgeEffort) || judgeEffort != EffortLevel.Unspecified))
        {
            errors.Add($"{prefix}JudgeModel '{JudgeModel}' {ModelProblem(prices, JudgeModel, effortAllowed: false)}");
        }

        return errors;
    }

    /// <summary>
    /// Resolves a <see cref="CandidateModel"/> or <see cref="JudgeModel"/> setting: a tier becomes its model's canonical
    /// id (what routing sends for a tier), a model the price book knows (id or alias) stays as written, and a trailing
    /// <c>@low</c> … <c>@max</c> is the <paramref name="effort"/>. False for a name that is neither (including a model
    /// the price book cannot price: its shadow spend could be neither held nor recorded).
    /// </summary>
    /// <param name="prices">The price book.</param>
    /// <param name="setting">The configured value, e.g. <c>haiku</c>, <c>claude-opus-5-5@low</c>.</param>
    /// <param name="model">The model to send to.</param>
    /// <param name="effort">The effort after <c>@</c>; <see cref="EffortLevel.Unspecified"/> without one.</param>
    public static bool TryResolveModel(PriceBook prices, string setting, out string model, out EffortLevel effort)
    {
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(setting);
        var name = setting.Trim();
        effort = EffortLevel.Unspecified;
        if (name.LastIndexOf('@') is var at and > 0 && RequestTraitsReader.TryParseEffort(name[(at + 1)..], out var parsed) && parsed != EffortLevel.Unspecified)
        {
            effort = parsed;
            name = name[..at];
        }

        if (prices.Tiers.ContainsKey(name))
        {
            return RoutingValidation.TryResolve(prices, name, out model);
        }

        model = name;
        return prices.TryResolveId(name, out _);
    }

    private static string ModelProblem(PriceBook prices, string setting, bool effortAllowed) =>
        $"is neither a tier ({string.Join(", ", prices.Tiers.Keys)}) nor a model in the price book {prices.SourceName}" +
        (effortAllowed ? " (optionally with an effort, e.g. opus@low)." : " (without an effort).") +
        (setting.Contains('@', StringComparison.Ordinal) && effortAllowed ? " The part after '@' must be low, medium, high, xhigh or max." : string.Empty);

    /// <summary>What is wrong with these options that needs no price book, each message naming the key under <paramref name="prefix"/>; empty when valid.</summary>
    public IReadOnlyList<string> Validate(string prefix = "")
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(CandidateModel))
        {
            errors.Add($"{prefix}CandidateModel is required: the model sampled requests are also sent to.");
        }

        if (DefaultRate is < 0 or > 1 || double.IsNaN(DefaultRate))
        {
            errors.Add($"{prefix}DefaultRate must be between 0 and 1 (got {DefaultRate}).");
        }

        foreach (var (task, rate) in Rates)
        {
            if (rate is < 0 or > 1 || double.IsNaN(rate))
            {
                errors.Add($"{prefix}Rates:{task} must be between 0 and 1 (got {rate}).");
            }
        }

        var judged = Comparison == ShadowComparison.Judge || ComparisonByTask.ContainsValue(ShadowComparison.Judge);
        if (judged && string.IsNullOrWhiteSpace(JudgeModel))
        {
            errors.Add($"{prefix}JudgeModel is required when a comparison is 'judge'.");
        }

        if (DailyBudgetUsd is <= 0 || TotalBudgetUsd is <= 0)
        {
            errors.Add($"{prefix}DailyBudgetUsd and {prefix}TotalBudgetUsd must be positive when set.");
        }

        if (ReservationTtl < TimeSpan.FromSeconds(1) || ReservationTtl > TimeSpan.FromDays(1))
        {
            errors.Add($"{prefix}ReservationTtl must be between 00:00:01 and 1.00:00:00 (got {ReservationTtl}).");
        }

        if (StopTimeout < TimeSpan.Zero || StopTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{prefix}StopTimeout must be between 00:00:00 and 00:10:00 (got {StopTimeout}).");
        }

        if (QueueCapacity < 1 || MaxConcurrency < 1 || JudgeMaxOutputTokens < 1 || JudgeMaxChars < 100)
        {
            errors.Add($"{prefix}QueueCapacity, {prefix}MaxConcurrency and {prefix}JudgeMaxOutputTokens must be at least 1, {prefix}JudgeMaxChars at least 100.");
        }

        return errors;
    }
}
