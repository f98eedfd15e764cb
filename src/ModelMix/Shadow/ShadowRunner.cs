using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Telemetry;

namespace ModelMix.Shadow;

/// <summary>
/// Runs shadow jobs off the hot path: a bounded queue (a full queue drops the job and counts it, the caller never
/// waits), a fixed number of workers, the shadow budget (scope <c>shadow</c>), the comparison (exact, JSON fields or
/// a judge model whose call is recorded in the ledger, linked to the pair), and the <c>shadow_pairs</c> row.
/// Shared by the library door (<see cref="ShadowChatClient"/>) and the proxy.
/// </summary>
public sealed class ShadowRunner : IAsyncDisposable
{
    /// <summary>The budget scope of shadow spend.</summary>
    public const string BudgetScope = "shadow";

    /// <summary>The ledger policy of shadow calls.</summary>
    public const string Policy = "shadow";

    /// <summary>The ledger policy of judge calls.</summary>
    public const string JudgePolicy = "shadow-judge";

    private readonly ShadowOptions _options;
    private readonly PriceBook _prices;
    private readonly IShadowPairStore _pairs;
    private readonly IBudgetStore? _budgets;
    private readonly List<BudgetLimit> _limits;
    private readonly IChatClient? _judge;
    private readonly ModelMixMetrics? _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<ShadowJob> _queue;
    private readonly Task[] _workers;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private TaskCompletionSource _idle = CompletedSource();
    private int _pending;
    private long _exhaustedUntilTicks; // UTC ticks; 0 = not exhausted
    private long _sampled, _dropped, _budgetExhausted, _compared, _shadowFailed, _judgeFailed, _skipped, _errors;

    /// <summary>Creates the runner and starts its workers.</summary>
    /// <param name="options">
    /// Shadow options, validated here against <paramref name="prices"/>: a candidate or judge that is neither a tier nor
    /// a priced model is refused now, not on every job (<see cref="ShadowOptions.Validate(PriceBook, string)"/>).
    /// </param>
    /// <param name="prices">Prices the live side and the judge call.</param>
    /// <param name="pairs">Where pairs are stored (the ledger store).</param>
    /// <param name="judge">The judge client (ledger stage included, so its calls are recorded); required for judge comparisons.</param>
    /// <param name="metrics">Counts outcomes as <c>modelmix_shadow_total{result}</c>; optional.</param>
    /// <param name="logger">Logs failures; optional.</param>
    public ShadowRunner(ShadowOptions options, PriceBook prices, IShadowPairStore pairs, IChatClient? judge = null, ModelMixMetrics? metrics = null, ILogger<ShadowRunner>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(pairs);
        var errors = options.Validate(prices);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid shadow options: " + string.Join(" ", errors), nameof(options));
        }

        if ((options.DailyBudgetUsd is not null || options.TotalBudgetUsd is not null) && options.BudgetStore is null)
        {
            throw new ArgumentException("A shadow budget (DailyBudgetUsd / TotalBudgetUsd) needs ShadowOptions.BudgetStore.", nameof(options));
        }

        _options = options;
        _prices = prices;
        ShadowOptions.TryResolveModel(prices, options.CandidateModel!, out var candidate, out var effort);
        CandidateModelId = candidate;
        CandidateEffort = effort;
        CandidateLabel = Catalog.RequestTraitsReader.WireName(effort) is { } effortName ? candidate + "@" + effortName : candidate;
        JudgeModelId = options.JudgeModel is { } judgeModel && ShadowOptions.TryResolveModel(prices, judgeModel, out var judgeId, out _) ? judgeId : null;
        _pairs = pairs;
        _budgets = options.BudgetStore;
        var limits = new List<BudgetLimit>();
        if (options.DailyBudgetUsd is { } daily)
        {
            limits.Add(new BudgetLimit(BudgetScope, "shadow budget", BudgetWindow.Day, daily));
        }

        if (options.TotalBudgetUsd is { } total)
        {
            limits.Add(new BudgetLimit(BudgetScope, "shadow budget", BudgetWindow.Total, total));
        }

        _limits = limits;
        _judge = judge;
        _metrics = metrics;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _time = options.TimeProvider ?? TimeProvider.System;
        _queue = Channel.CreateBounded<ShadowJob>(new BoundedChannelOptions(options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full: the job is dropped, never waited for
            SingleReader = options.MaxConcurrency == 1,
        });
        _workers = new Task[options.MaxConcurrency];
        for (var i = 0; i < _workers.Length; i++)
        {
            _workers[i] = Task.Run(WorkAsync);
        }
    }

    /// <summary>The options in force.</summary>
    public ShadowOptions Options => _options;

    /// <summary>The model shadow calls are sent to: <see cref="ShadowOptions.CandidateModel"/> resolved (a tier becomes its model).</summary>
    public string CandidateModelId { get; }

    /// <summary>The effort shadow calls run at (<c>opus@low</c>); <see cref="Catalog.EffortLevel.Unspecified"/>: the request's own.</summary>
    public Catalog.EffortLevel CandidateEffort { get; }

    /// <summary>How the candidate is named in pair rows (<c>shadow_model</c>): <see cref="CandidateModelId"/>, with <c>@effort</c> when one is set.</summary>
    public string CandidateLabel { get; }

    /// <summary>The judge model resolved (a tier becomes its model); null without a judge.</summary>
    public string? JudgeModelId { get; }

    /// <summary>The counters so far.</summary>
    public ShadowStatistics Statistics => new(
        Interlocked.Read(ref _sampled), Interlocked.Read(ref _dropped), Interlocked.Read(ref _budgetExhausted), Interlocked.Read(ref _compared),
        Interlocked.Read(ref _shadowFailed), Interlocked.Read(ref _judgeFailed), Interlocked.Read(ref _skipped), Interlocked.Read(ref _errors));

    /// <summary>
    /// Decides whether the request <paramref name="requestId"/> is shadowed (deterministically, by its hash and the
    /// task's rate) and returns a new pair id when it is; null when not, or while the shadow budget is exhausted.
    /// </summary>
    internal string? TrySample(string requestId, string? taskLabel)
    {
        ArgumentNullException.ThrowIfNull(requestId);
        if (!ShadowSampler.IsSampled(requestId, _options.RateFor(taskLabel)))
        {
            return null;
        }

        var now = _time.GetUtcNow();
        if (Interlocked.Read(ref _exhaustedUntilTicks) is var until && until != 0 && now.UtcTicks < until)
        {
            Count(ref _budgetExhausted, "budget_exhausted");
            return null;
        }

        Count(ref _sampled, "sampled");
        return LedgerIds.New(now);
    }

    /// <summary>Queues a job; false (and counted as dropped) when the queue is full or the runner is stopping. Never waits.</summary>
    internal bool TryEnqueue(ShadowJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        lock (_gate)
        {
            if (_pending++ == 0)
            {
                _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        if (_queue.Writer.TryWrite(job))
        {
            return true;
        }

        Finished();
        Count(ref _dropped, "dropped");
        ShadowLog.Dropped(_logger, job.PairId);
        return false;
    }

    /// <summary>Completes when every queued job has finished (for tests and orderly shutdown).</summary>
    public Task WhenIdleAsync(CancellationToken cancellationToken = default)
    {
        Task idle;
        lock (_gate)
        {
            idle = _idle.Task;
        }

        return idle.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Stops taking jobs, lets queued ones finish (up to <see cref="ShadowOptions.StopTimeout"/>), then cancels what is
    /// left and waits (as long again) for the cancelled jobs to record their calls and settle their holds.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        var workers = Task.WhenAll(_workers);
        try
        {
            await workers.WaitAsync(_options.StopTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            try
            {
                // A cancelled call is recorded before its job ends: waiting here keeps the ledger open for it.
                await workers.WaitAsync(_options.StopTimeout + TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                ShadowLog.StopTimedOut(_logger);
            }
        }

        _stopping.Dispose();
    }

    private async Task WorkAsync()
    {
        await foreach (var job in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                await RunAsync(job, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                ShadowLog.Cancelled(_logger, job.PairId);
            }
            catch (Exception exception)
            {
                Count(ref _errors, "error");
                ShadowLog.JobFailed(_logger, exception, job.PairId);
            }
            finally
            {
                Finished();
            }
        }
    }

    private async Task RunAsync(ShadowJob job, CancellationToken cancellationToken)
    {
        var live = job.ReadLive();
        var shadowModel = CandidateLabel;
        if (live.SkipReason is not null || IsSameAsCandidate(live.Model))
        {
            Count(ref _skipped, "skipped");
            return;
        }

        var method = _options.ComparisonFor(job.TaskLabel);
        var now = _time.GetUtcNow();
        BudgetReservation? reservation = null;
        if (_budgets is not null && _limits.Count > 0)
        {
            var worstCase = job.WorstCaseUsd(now) + (method == ShadowComparison.Judge ? JudgeWorstCaseUsd(live, now) : 0m);
            var reserved = await _budgets.ReserveAsync(job.PairId, _limits, worstCase, now, _options.ReservationTtl, cancellationToken).ConfigureAwait(false);
            if (reserved.Refusal is { } refusal)
            {
                var until = BudgetPeriods.End(refusal.Limit.Window, now) ?? DateTimeOffset.MaxValue;
                Interlocked.Exchange(ref _exhaustedUntilTicks, until.UtcTicks);
                Count(ref _budgetExhausted, "budget_exhausted");
                ShadowLog.BudgetExhausted(_logger, refusal.Message, until == DateTimeOffset.MaxValue ? "the budget is raised" : until.ToString("O", CultureInfo.InvariantCulture));
                return;
            }

            reservation = reserved.Reservation;
        }

        // The candidate's and the judge's intents count against the pair's hold: one reconciled after its hold was
        // reclaimed is still charged to the shadow budget (docs/ledger.md "Crash consistency").
        IntentReservation.Use(reservation?.Id);

        decimal spent = 0m;
        try
        {
            ShadowAnswer shadow;
            try
            {
                shadow = await job.RunShadowAsync(live, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Count(ref _shadowFailed, "shadow_failed");
                ShadowLog.ShadowFailed(_logger, job.PairId, exception.GetType().Name + ": " + exception.Message);
                await StoreAsync(job, live, shadowModel, method, null, "shadow_failed", null, null, null, cancellationToken).ConfigureAwait(false);
                return;
            }

            spent += shadow.CostUsd ?? job.WorstCaseUsd(now);
            double? agreement;
            decimal? judgeCost = null;
            var status = "ok";
            switch (method)
            {
                case ShadowComparison.Exact:
                    agreement = ShadowComparer.Exact(live.Text, shadow.Text);
                    break;
                case ShadowComparison.Json:
                    agreement = ShadowComparer.Json(live.Text, shadow.Text, _options.JsonFields);
                    break;
                default:
                    (agreement, judgeCost) = await JudgeAsync(job, live, shadow, cancellationToken).ConfigureAwait(false);
                    spent += judgeCost ?? 0m;
                    status = agreement is null ? "judge_failed" : "ok";
                    break;
            }

            if (agreement is { } score)
            {
                Count(ref _compared, "compared");
                _metrics?.RecordShadowAgreement(score, job.TaskLabel, MethodCode(method));
            }
            else
            {
                Count(ref _judgeFailed, "judge_failed");
            }

            await StoreAsync(job, live, shadowModel, method, agreement, status, shadow, judgeCost, shadow.Text, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (reservation is not null)
            {
                if (_options.SettlingLedger is { CanSettle: true } ledger)
                {
                    // In the ledger's transaction, after the pair's records (a call cancelled by a stop included): the
                    // shadow budget is charged exactly what the ledger holds for the pair.
                    await ledger.SettleAsync(new ReservationSettlement(reservation.Id, reservation.RequestId), CancellationToken.None).ConfigureAwait(false);
                }
                else
                {
                    await _budgets!.SettleAsync(reservation, spent, CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
    }

    private async Task<(double? Agreement, decimal? Cost)> JudgeAsync(ShadowJob job, ShadowLiveAnswer live, ShadowAnswer shadow, CancellationToken cancellationToken)
    {
        if (_judge is null)
        {
            throw new InvalidOperationException("A judge comparison needs a judge client.");
        }

        var options = new ChatOptions { ModelId = JudgeModelId, MaxOutputTokens = _options.JudgeMaxOutputTokens }
            .SetRequestId(job.PairId)
            .SetShadowPairId(job.PairId)
            .SetAttempt(2)
            .SetRequestedModel(JudgeModelId)
            .SetRouting(JudgePolicy, $"judge of shadow pair {job.PairId}: {CandidateLabel} against {live.Model}")
            .SetTaskLabel(job.TaskLabel);
        var startedAt = _time.GetUtcNow();
        ChatResponse response;
        try
        {
            response = await _judge.GetResponseAsync(JudgeMessages(live, shadow), options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            ShadowLog.JudgeFailed(_logger, job.PairId, exception.GetType().Name + ": " + exception.Message);
            return (null, null);
        }

        var cost = PriceOrNull(_prices, startedAt, JudgeModelId!, response.ModelId, ChatUsage.FromResponse(response));
        if (!ShadowComparer.TryParseScore(response.Text, out var score))
        {
            ShadowLog.JudgeFailed(_logger, job.PairId, "no score in the judge's answer");
            return (null, cost);
        }

        return (score, cost);
    }

    internal List<ChatMessage> JudgeMessages(ShadowLiveAnswer live, ShadowAnswer shadow) =>
    [
        new(ChatRole.System, _options.JudgePrompt),
        new(ChatRole.User, $"Request:\n{Clip(live.PromptText)}\n\nReference answer:\n{Clip(live.Text)}\n\nCandidate answer:\n{Clip(shadow.Text)}"),
    ];

    private decimal JudgeWorstCaseUsd(ShadowLiveAnswer live, DateTimeOffset at)
    {
        // At most one token per character of the judge's prompt, the clipped request, and the two clipped answers.
        var price = _prices.GetPrice(JudgeModelId!, at);
        var max = _options.JudgeMaxChars + 16;
        long tokens = _options.JudgePrompt.Length + 64 + Math.Min(live.PromptText.Length, max) + Math.Min(live.Text.Length, max) + max;
        return ((tokens * price.Input) + (_options.JudgeMaxOutputTokens * price.Output)) / 1_000_000m;
    }

    private async Task StoreAsync(ShadowJob job, ShadowLiveAnswer live, string shadowModel, ShadowComparison method, double? agreement, string status, ShadowAnswer? shadow, decimal? judgeCost, string? shadowText, CancellationToken cancellationToken)
    {
        var store = _options.StoreAnswers;
        var redact = _options.Redact ?? (static text => text);
        await _pairs.WriteShadowPairAsync(new ShadowPair
        {
            PairId = job.PairId,
            LiveRequestId = job.LiveRequestId,
            TaskLabel = job.TaskLabel,
            LiveModel = live.Model,
            ShadowModel = shadowModel,
            Method = method,
            Agreement = agreement,
            Status = status,
            LiveCostUsd = live.CostUsd,
            ShadowCostUsd = shadow?.CostUsd,
            JudgeCostUsd = judgeCost,
            LiveInputTokens = live.Usage.TotalInputTokens,
            LiveOutputTokens = live.Usage.OutputTokens,
            ShadowInputTokens = shadow?.Usage.TotalInputTokens ?? 0,
            ShadowOutputTokens = shadow?.Usage.OutputTokens ?? 0,
            CreatedAt = job.LiveTimestamp,
            CompletedAt = _time.GetUtcNow(),
            Prompt = store ? redact(live.PromptText) : null,
            LiveAnswer = store ? redact(live.Text) : null,
            ShadowAnswer = store && shadowText is not null ? redact(shadowText) : null,
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Whether the live call already ran what the shadow call would (the same model, by canonical id, and no other
    /// effort asked for): then there is nothing to compare.
    /// </summary>
    private bool IsSameAsCandidate(string liveModel) =>
        CandidateEffort == Catalog.EffortLevel.Unspecified
        && (string.Equals(liveModel, CandidateModelId, StringComparison.OrdinalIgnoreCase)
            || (_prices.TryResolveId(liveModel, out var liveId) && _prices.TryResolveId(CandidateModelId, out var candidateId)
                && string.Equals(liveId, candidateId, StringComparison.Ordinal)));

    /// <summary>The cost of <paramref name="usage"/> on the response model (else the routed model); null when neither is priced.</summary>
    internal static decimal? PriceOrNull(PriceBook prices, DateTimeOffset at, string routedModel, string? responseModel, TokenUsage usage)
    {
        if (usage.InputTokens == 0 && usage.OutputTokens == 0 && usage.TotalInputTokens == 0 && !usage.HasServerToolUse)
        {
            return 0m;
        }

        var model = responseModel is not null && prices.TryResolveId(responseModel, out _) ? responseModel : routedModel;
        try
        {
            return prices.Cost(model, usage, at).Total;
        }
        catch (PricingException)
        {
            return null;
        }
    }

    /// <summary>The stored code of a comparison method.</summary>
    internal static string MethodCode(ShadowComparison method) => method switch
    {
        ShadowComparison.Exact => "exact",
        ShadowComparison.Json => "json",
        ShadowComparison.Judge => "judge",
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "Unknown comparison."),
    };

    /// <summary>Parses a stored comparison code.</summary>
    internal static ShadowComparison ParseMethod(string code) => code switch
    {
        "exact" => ShadowComparison.Exact,
        "json" => ShadowComparison.Json,
        "judge" => ShadowComparison.Judge,
        _ => throw new InvalidDataException($"Unknown shadow comparison '{code}' in the ledger database."),
    };

    private string Clip(string text) =>
        text.Length <= _options.JudgeMaxChars ? text : string.Concat(text.AsSpan(0, _options.JudgeMaxChars), " […truncated]");

    private void Count(ref long counter, string result)
    {
        Interlocked.Increment(ref counter);
        _metrics?.RecordShadow(result);
    }

    private void Finished()
    {
        lock (_gate)
        {
            if (--_pending == 0)
            {
                _idle.TrySetResult();
            }
        }
    }

    private static TaskCompletionSource CompletedSource()
    {
        var source = new TaskCompletionSource();
        source.SetResult();
        return source;
    }
}
