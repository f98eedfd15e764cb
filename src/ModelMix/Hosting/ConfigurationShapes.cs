using Microsoft.Extensions.Configuration;
using ModelMix.Pipeline;
using ModelMix.Routing;

namespace ModelMix.Hosting;

// What configuration can set on the options classes that also carry runtime objects (a PriceBook, an IChatClient, a
// TimeProvider): the configuration binding source generator binds these shapes, then each is applied onto its options.
// Bound directly, the generator would walk into those runtime objects (a PriceBook's entries) and generate code for
// them. Every property is nullable: only a key that is present changes the options, as the reflection binder did.
// ConfigurationShapesTests checks each shape names every configurable property of its options class.

/// <summary>The configurable keys of <see cref="CascadeOptions"/> (<c>ModelMix:Cascade</c>).</summary>
internal sealed class CascadeShape
{
    public string? PolicyName { get; set; }

    public List<string>? Tiers { get; set; }

    public double? Threshold { get; set; }

    public Dictionary<string, double>? TaskThresholds { get; set; }

    public int? MaxEscalations { get; set; }

    public CascadeConfidenceSource? ConfidenceSource { get; set; }

    public double? MissingConfidence { get; set; }

    public string? ConfidenceInstruction { get; set; }

    public string? VerifierModel { get; set; }

    public string? VerifierPrompt { get; set; }

    public int? VerifierMaxOutputTokens { get; set; }

    public int? VerifierMaxChars { get; set; }

    public bool? VerifyFinalAnswer { get; set; }

    public static void Bind(IConfigurationSection section, CascadeOptions options)
    {
        var shape = section.Get<CascadeShape>() ?? new CascadeShape();
        options.PolicyName = shape.PolicyName ?? options.PolicyName;
        options.Tiers = shape.Tiers ?? options.Tiers; // a configured list replaces haiku, sonnet, opus
        options.Threshold = shape.Threshold ?? options.Threshold;
        foreach (var (task, threshold) in shape.TaskThresholds ?? [])
        {
            options.TaskThresholds[task] = threshold;
        }

        options.MaxEscalations = shape.MaxEscalations ?? options.MaxEscalations;
        options.ConfidenceSource = shape.ConfidenceSource ?? options.ConfidenceSource;
        options.MissingConfidence = shape.MissingConfidence ?? options.MissingConfidence;
        options.ConfidenceInstruction = shape.ConfidenceInstruction ?? options.ConfidenceInstruction;
        options.VerifierModel = shape.VerifierModel ?? options.VerifierModel;
        options.VerifierPrompt = shape.VerifierPrompt ?? options.VerifierPrompt;
        options.VerifierMaxOutputTokens = shape.VerifierMaxOutputTokens ?? options.VerifierMaxOutputTokens;
        options.VerifierMaxChars = shape.VerifierMaxChars ?? options.VerifierMaxChars;
        options.VerifyFinalAnswer = shape.VerifyFinalAnswer ?? options.VerifyFinalAnswer;
    }
}

/// <summary>The configurable keys of <see cref="FallbackOptions"/> (<c>ModelMix:Fallback</c>).</summary>
internal sealed class FallbackShape
{
    public List<string>? Chain { get; set; }

    public string? LongContextModel { get; set; }

    public int? MaxRetriesPerModel { get; set; }

    public TimeSpan? BaseDelay { get; set; }

    public TimeSpan? MaxDelay { get; set; }

    public bool? UseJitter { get; set; }

    public TimeSpan? MaxRetryAfter { get; set; }

    public static void Bind(IConfigurationSection section, FallbackOptions options)
    {
        var shape = section.Get<FallbackShape>() ?? new FallbackShape();
        options.Chain = shape.Chain ?? options.Chain; // the configured chain replaces the one set in code
        options.LongContextModel = shape.LongContextModel ?? options.LongContextModel;
        options.MaxRetriesPerModel = shape.MaxRetriesPerModel ?? options.MaxRetriesPerModel;
        options.BaseDelay = shape.BaseDelay ?? options.BaseDelay;
        options.MaxDelay = shape.MaxDelay ?? options.MaxDelay;
        options.UseJitter = shape.UseJitter ?? options.UseJitter;
        options.MaxRetryAfter = shape.MaxRetryAfter ?? options.MaxRetryAfter;
    }
}

/// <summary>The configurable keys of <see cref="TierDriftOptions"/> (<c>ModelMix:TierDrift</c>).</summary>
internal sealed class TierDriftShape
{
    public Dictionary<string, double>? MaxShare { get; set; }

    public int? WindowCalls { get; set; }

    public TimeSpan? WindowDuration { get; set; }

    public int? MinCalls { get; set; }

    public double? Hysteresis { get; set; }

    public static void Bind(IConfigurationSection section, TierDriftOptions options)
    {
        var shape = section.Get<TierDriftShape>() ?? new TierDriftShape();
        foreach (var (tier, share) in shape.MaxShare ?? [])
        {
            options.MaxShare[tier] = share;
        }

        options.WindowCalls = shape.WindowCalls ?? options.WindowCalls;
        options.WindowDuration = shape.WindowDuration ?? options.WindowDuration;
        options.MinCalls = shape.MinCalls ?? options.MinCalls;
        options.Hysteresis = shape.Hysteresis ?? options.Hysteresis;
    }
}

/// <summary>The configurable keys of <see cref="LoopGuardOptions"/> (<c>ModelMix:LoopGuard</c>).</summary>
internal sealed class LoopGuardShape
{
    public int? MaxStepsPerSession { get; set; }

    public decimal? MaxSpendPerSession { get; set; }

    public decimal? MaxSpendPerWindow { get; set; }

    public TimeSpan? SpendWindow { get; set; }

    public int? MaxRepeatedToolCalls { get; set; }

    public TimeSpan? SessionIdleTimeout { get; set; }

    public bool? GuardCallsWithoutSession { get; set; }

    public string? AnonymousSessionId { get; set; }

    public static void Bind(IConfigurationSection section, LoopGuardOptions options)
    {
        var shape = section.Get<LoopGuardShape>() ?? new LoopGuardShape();
        // The limits are nullable on the options too: a key present with an empty value turns that limit off.
        if (section[nameof(MaxStepsPerSession)] is not null)
        {
            options.MaxStepsPerSession = shape.MaxStepsPerSession;
        }

        if (section[nameof(MaxSpendPerSession)] is not null)
        {
            options.MaxSpendPerSession = shape.MaxSpendPerSession;
        }

        if (section[nameof(MaxSpendPerWindow)] is not null)
        {
            options.MaxSpendPerWindow = shape.MaxSpendPerWindow;
        }

        if (section[nameof(MaxRepeatedToolCalls)] is not null)
        {
            options.MaxRepeatedToolCalls = shape.MaxRepeatedToolCalls;
        }

        options.SpendWindow = shape.SpendWindow ?? options.SpendWindow;
        options.SessionIdleTimeout = shape.SessionIdleTimeout ?? options.SessionIdleTimeout;
        options.GuardCallsWithoutSession = shape.GuardCallsWithoutSession ?? options.GuardCallsWithoutSession;
        options.AnonymousSessionId = shape.AnonymousSessionId ?? options.AnonymousSessionId;
    }
}

/// <summary>The configurable keys of <see cref="Shadow.ShadowOptions"/> (<c>ModelMix:Shadow</c>).</summary>
internal sealed class ShadowShape
{
    public string? CandidateModel { get; set; }

    public double? DefaultRate { get; set; }

    public Dictionary<string, double>? Rates { get; set; }

    public Shadow.ShadowComparison? Comparison { get; set; }

    public Dictionary<string, Shadow.ShadowComparison>? ComparisonByTask { get; set; }

    public List<string>? JsonFields { get; set; }

    public string? JudgeModel { get; set; }

    public string? JudgePrompt { get; set; }

    public int? JudgeMaxOutputTokens { get; set; }

    public int? JudgeMaxChars { get; set; }

    public decimal? DailyBudgetUsd { get; set; }

    public decimal? TotalBudgetUsd { get; set; }

    public int? QueueCapacity { get; set; }

    public int? MaxConcurrency { get; set; }

    public TimeSpan? ReservationTtl { get; set; }

    public TimeSpan? StopTimeout { get; set; }

    public bool? StoreAnswers { get; set; }

    public static void Bind(IConfigurationSection section, Shadow.ShadowOptions options)
    {
        var shape = section.Get<ShadowShape>() ?? new ShadowShape();
        options.CandidateModel = shape.CandidateModel ?? options.CandidateModel;
        options.DefaultRate = shape.DefaultRate ?? options.DefaultRate;
        foreach (var (task, rate) in shape.Rates ?? [])
        {
            options.Rates[task] = rate;
        }

        options.Comparison = shape.Comparison ?? options.Comparison;
        foreach (var (task, method) in shape.ComparisonByTask ?? [])
        {
            options.ComparisonByTask[task] = method;
        }

        options.JsonFields.AddRange(shape.JsonFields ?? []); // appended, as the binder appends to a list
        options.JudgeModel = shape.JudgeModel ?? options.JudgeModel;
        options.JudgePrompt = shape.JudgePrompt ?? options.JudgePrompt;
        options.JudgeMaxOutputTokens = shape.JudgeMaxOutputTokens ?? options.JudgeMaxOutputTokens;
        options.JudgeMaxChars = shape.JudgeMaxChars ?? options.JudgeMaxChars;
        if (section[nameof(DailyBudgetUsd)] is not null)
        {
            options.DailyBudgetUsd = shape.DailyBudgetUsd;
        }

        if (section[nameof(TotalBudgetUsd)] is not null)
        {
            options.TotalBudgetUsd = shape.TotalBudgetUsd;
        }

        options.QueueCapacity = shape.QueueCapacity ?? options.QueueCapacity;
        options.MaxConcurrency = shape.MaxConcurrency ?? options.MaxConcurrency;
        options.ReservationTtl = shape.ReservationTtl ?? options.ReservationTtl;
        options.StopTimeout = shape.StopTimeout ?? options.StopTimeout;
        options.StoreAnswers = shape.StoreAnswers ?? options.StoreAnswers;
    }
}
