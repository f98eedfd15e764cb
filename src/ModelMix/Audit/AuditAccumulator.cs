using System.Globalization;
using ModelMix.Ledger;
using ModelMix.Evaluation;
using ModelMix.Pricing;

namespace ModelMix.Audit;

/// <summary>
/// Builds an <see cref="AuditReport"/> from ledger records fed one at a time, earliest first, in one pass and in memory
/// proportional to the number of models, task labels, keys, days and sessions (not of records). Money is summed as
/// <see cref="decimal"/>; counterfactuals and savings reprice each call's tokens with the price book at the rates in
/// force when the call was made.
/// </summary>
/// <remarks>
/// Every money figure covers the same calls: the priced ones. A call recorded without a cost (a model the catalog
/// could not price) counts $0 in the recorded totals, so it is left out of every repriced figure too — the
/// counterfactual bills, caching and batch savings, the per-task repricing — and reported on its own
/// (<see cref="AuditReport.UnpricedCalls"/> and its tokens): a saving never compares a bill that includes a call with
/// an actual total that does not.
/// </remarks>
internal sealed partial class AuditAccumulator
{
    /// <summary>The length of an average month (365.25 ÷ 12 days), the unit of every monthly figure.</summary>
    public static readonly TimeSpan AverageMonth = TimeSpan.FromDays(30.4375);

    private const string None = "(none)";

    private readonly PriceBook _prices;
    private readonly AuditOptions _options;
    private readonly string[] _targets;
    private readonly string _top;
    private readonly string? _baseline;
    private readonly Dictionary<string, Bucket> _byModel = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Model, string Effort), EffortAcc> _byModelEffort = new();
    private readonly Dictionary<string, Bucket> _byKey = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, Bucket> _byDay = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, Dictionary<string, decimal>> _byDayModel = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Bucket> _byTier = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskAcc> _tasks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SessionAcc> _sessions = new(StringComparer.Ordinal);
    private readonly HashSet<string> _escalatedRequests = new(StringComparer.Ordinal);
    private readonly Queue<AuditRecentRecord> _recent = new();
    private readonly decimal[] _repriced;
    private readonly long[] _infeasible; // per target: calls it could not have served (WhatIfRepricing), priced as recorded
    private readonly decimal[] _infeasibleUsd;
    private readonly bool _fromRollups;
    private List<DateTimeOffset>? _changeInstants;
    private DateTimeOffset? _routingStart;
    private DateTimeOffset? _first, _last;
    private long _calls, _unpriced, _requests, _callsWithTokens;
    private long _unpricedPromptTokens, _unpricedOutputTokens;
    private decimal _total;
    private long _promptTokens, _cacheRead, _cacheWrite, _callsWithCacheRead;
    private decimal _readSavings, _writePremium;
    private long _batchCalls;
    private decimal _batchCost, _batchSavings;
    private long _escalations, _retries, _routingCalls;
    private decimal _escalationCost, _retryCost, _routingCallCost;
    private long _thinkingBlocksDropped, _thinkingDroppedCalls;
    private readonly Dictionary<string, Bucket> _disconnectsByKey = new(StringComparer.Ordinal);
    private readonly Dictionary<string, decimal> _overrunByKey = new(StringComparer.Ordinal);
    private long _estimatedCalls;
    private decimal _thinkingDroppedCost;

    /// <summary>Starts an empty audit.</summary>
    /// <param name="prices">Reprices tokens and names each model's tier.</param>
    /// <param name="options">Range, bounds and extra models to reprice on.</param>
    /// <exception cref="UnknownModelException">The top or baseline model, or a reprice model, is not in the price book.</exception>
    public AuditAccumulator(PriceBook prices, AuditOptions options)
        : this(prices, options, fromRollups: false)
    {
    }

    /// <summary>Starts an empty audit; <paramref name="fromRollups"/>: sessions, escalated requests and recent records come apart.</summary>
    internal AuditAccumulator(PriceBook prices, AuditOptions options, bool fromRollups)
    {
        _fromRollups = fromRollups;
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(options);
        _prices = prices;
        _options = options;
        _routingStart = options.RoutingStart;
        _top = prices.ResolveTier(options.TopModel);
        _baseline = options.BaselineModel is { } baseline ? prices.ResolveTier(baseline) : null;
        var targets = new List<string>();
        void AddTarget(string model)
        {
            if (!targets.Contains(model, StringComparer.Ordinal))
            {
                targets.Add(model);
            }
        }

        foreach (var tier in prices.Tiers.Keys.Order(StringComparer.Ordinal))
        {
            AddTarget(prices.ResolveTier(tier));
        }

        AddTarget(_top);
        if (_baseline is not null)
        {
            AddTarget(_baseline);
        }

        foreach (var model in options.RepriceModels)
        {
            AddTarget(prices.ResolveTier(model));
        }

        _targets = [.. targets];
        _repriced = new decimal[_targets.Length];
        _infeasible = new long[_targets.Length];
        _infeasibleUsd = new decimal[_targets.Length];
    }

    /// <summary>The canonical ids every call is repriced on (tier models, top, baseline, extra models).</summary>
    public IReadOnlyList<string> RepriceTargets => _targets;

    /// <summary>
    /// The model a record is priced on, by the proxy's own rule: the model the response named when the price book
    /// knows it, else the model it was routed to; as the canonical id when the book knows it.
    /// </summary>
    /// <param name="prices">The price book.</param>
    /// <param name="record">The ledger record.</param>
    public static string ServedModel(PriceBook prices, LedgerRecord record)
    {
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(record);
        if (record.ResponseModel is { } response && prices.TryResolveId(response, out var id))
        {
            return id;
        }

        return prices.TryResolveId(record.RoutedModel, out var routed) ? routed : record.RoutedModel;
    }

    /// <summary>Whether a record's policy routed it (anything but a caller-named model).</summary>
    /// <param name="record">The ledger record.</param>
    public static bool IsRouted(LedgerRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return record.Policy is { Length: > 0 } policy && !string.Equals(policy, "passthrough", StringComparison.Ordinal);
    }

    /// <summary>Adds one record; records must come earliest first (the ledger's read order).</summary>
    /// <param name="record">The ledger record.</param>
    public void Add(LedgerRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var usage = record.Usage;
        var cost = record.Cost?.Total;
        AddCalls(new Calls
        {
            First = record.Timestamp,
            Last = record.Timestamp,
            Count = 1,
            KeyId = record.KeyId,
            TaskLabel = record.TaskLabel,
            Routed = IsRouted(record),
            Model = ServedModel(_prices, record),
            Effort = record.Effort,
            AttemptKind = record.Attempt == LedgerRecord.RoutingCallAttempt ? 0 : record.Attempt == 1 ? 1 : 2,
            EscalatedFrom = record.EscalatedFrom,
            Usage = usage,
            Cost = cost,
            EffortDefaultCalls = record.EffortIsDefault ? 1 : 0,
            ThinkingBlocks = record.ThinkingBlocksDropped,
            ThinkingCalls = record.ThinkingBlocksDropped > 0 ? 1 : 0,
            ThinkingCost = record.ThinkingBlocksDropped > 0 ? cost ?? 0m : 0m,
            DisconnectedCalls = record.ClientDisconnected ? 1 : 0,
            DisconnectedCost = record.ClientDisconnected ? cost ?? 0m : 0m,
            EstimatedCalls = record.UsageEstimated ? 1 : 0,
            CacheReadCalls = usage.CacheReadTokens > 0 ? 1 : 0,
            HasTokens = usage.OutputTokens != 0 || usage.TotalInputTokens != 0,
            PromptTokensPerCall = usage.TotalInputTokens,
            LargestCall = usage,
            Overrun = record.OverrunUsd ?? 0m,
        });

        if (_fromRollups)
        {
            return; // sessions, escalated requests and recent records are read apart (AuditRunner)
        }

        AddSessionCall(record.KeyId, record.SessionId, record.Timestamp, cost ?? 0m);
        if (record.EscalatedFrom is not null && record.Attempt != LedgerRecord.RoutingCallAttempt)
        {
            _escalatedRequests.Add(record.RequestId);
        }

        if (_options.RecentCount > 0)
        {
            if (_recent.Count == _options.RecentCount)
            {
                _recent.Dequeue();
            }

            _recent.Enqueue(Recent(record));
        }
    }

    /// <summary>
    /// Adds the calls of one rollup row (an audit built from rollups, <see cref="AuditRunner"/>): only for a row
    /// <see cref="CanAddRollups"/> accepted, whose every call is priced and repriced exactly as its own record would be.
    /// </summary>
    internal void AddRollup(LedgerRollup rollup)
    {
        var model = _prices.TryResolveId(rollup.ResponseModel ?? string.Empty, out var response) ? response
            : _prices.TryResolveId(rollup.RoutedModel, out var routed) ? routed : rollup.RoutedModel;
        AddCalls(new Calls
        {
            First = rollup.FirstTimestamp,
            Last = rollup.LastTimestamp,
            Count = rollup.Calls,
            KeyId = rollup.KeyId,
            TaskLabel = rollup.TaskLabel,
            Routed = rollup.Policy is { Length: > 0 } policy && !string.Equals(policy, "passthrough", StringComparison.Ordinal),
            Model = model,
            Effort = rollup.Effort,
            AttemptKind = rollup.AttemptKind,
            EscalatedFrom = rollup.EscalatedFrom,
            Usage = rollup.Usage,
            Cost = rollup.Priced ? rollup.Cost.Total : null,
            EffortDefaultCalls = rollup.EffortDefaultCalls,
            ThinkingBlocks = rollup.ThinkingBlocksDropped,
            ThinkingCalls = rollup.ThinkingDroppedCalls,
            ThinkingCost = rollup.ThinkingDroppedCost,
            DisconnectedCalls = rollup.DisconnectedCalls,
            DisconnectedCost = rollup.DisconnectedCost,
            EstimatedCalls = rollup.EstimatedCalls,
            CacheReadCalls = rollup.CacheReadCalls,
            HasTokens = rollup.HasTokens,
            PromptTokensPerCall = rollup.MaxPromptTokens,
            LargestCall = LargestCall(rollup),
            Overrun = rollup.OverrunUsd,
        });
    }

    /// <summary>
    /// Whether the rollup rows of one hour can stand for their calls: no price, fee or retirement changes inside the
    /// hour, no row straddles a long-context threshold, and for every priced row each target could have served all of
    /// its calls or none of them (judged on the row's largest and smallest call, never on its sums).
    /// Otherwise the hour is audited from its raw rows.
    /// </summary>
    internal bool CanAddRollups(DateTimeOffset hour, IReadOnlyList<LedgerRollup> rows) => CanAddRollupSpan(hour, hour.AddHours(1), rows);

    /// <summary>
    /// <see cref="CanAddRollups"/> over the span [<paramref name="hour"/>,
    /// <paramref name="end"/>): rows that each sum the calls of several hours of it (<see cref="AuditRollupSpans"/>).
    /// </summary>
    internal bool CanAddRollupSpan(DateTimeOffset hour, DateTimeOffset end, IReadOnlyList<LedgerRollup> rows)
    {
        foreach (var instant in _changeInstants ??= ChangeInstants(_prices))
        {
            if (instant > hour && instant < end)
            {
                return false;
            }
        }

        foreach (var row in rows)
        {
            var model = _prices.TryResolveId(row.ResponseModel ?? string.Empty, out var response) ? response
                : _prices.TryResolveId(row.RoutedModel, out var routed) ? routed : row.RoutedModel;
            if (Straddles(model, row, hour))
            {
                return false;
            }

            if (!row.Priced || !row.HasTokens)
            {
                continue;
            }

            // A row stands for its calls on a target when every call fits it (its largest call, with the effort some call
            // sent, fits) or none does (its smallest prompt, output unchecked and no effort sent, is already refused:
            // the limits only grow stricter with more tokens and a sent effort); a row between the two is read raw.
            var largest = LargestCall(row);
            var smallest = new TokenUsage(row.MinPromptTokens, 0, InferenceGeo: row.InferenceGeo);
            var sent = WhatIfRepricing.SentEffort(row.Effort, row.EffortDefaultCalls >= row.Calls); // some call of the row sent it
            var leastSent = row.EffortDefaultCalls > 0 ? ModelMix.Catalog.EffortLevel.Unspecified : sent;
            foreach (var target in _targets)
            {
                if (Straddles(target, row, hour))
                {
                    return false;
                }

                if (WhatIfRepricing.Check(_prices, target, largest, hour, sent) != ModelMix.Catalog.RuleViolation.None
                    && WhatIfRepricing.Check(_prices, target, smallest, hour, leastSent) == ModelMix.Catalog.RuleViolation.None)
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>One session call (sessions are read from raw rows); calls of a session must come earliest first.</summary>
    internal void AddSessionCall(string? keyId, string? sessionId, DateTimeOffset at, decimal paid)
    {
        if (Routing.SessionScope.Of(keyId, sessionId) is not { } session) // a session is its key's
        {
            return;
        }

        if (!_sessions.TryGetValue(session, out var s))
        {
            _sessions[session] = s = new SessionAcc { First = at, Id = sessionId!, KeyId = keyId };
        }

        s.Last = at;
        s.Cost += paid;
        s.Calls++;
    }

    /// <summary>
    /// The calls of one session (as <see cref="AddSessionCall"/> would have added them one by one): <paramref name="calls"/>
    /// calls from <paramref name="first"/> to <paramref name="last"/> that paid <paramref name="paid"/> in all.
    /// </summary>
    internal void AddSession(string? keyId, string? sessionId, DateTimeOffset first, DateTimeOffset last, decimal paid, long calls)
    {
        if (Routing.SessionScope.Of(keyId, sessionId) is not { } session)
        {
            return;
        }

        if (!_sessions.TryGetValue(session, out var s))
        {
            _sessions[session] = s = new SessionAcc { First = first, Last = last, Id = sessionId!, KeyId = keyId };
        }

        s.First = first < s.First ? first : s.First;
        s.Last = last > s.Last ? last : s.Last;
        s.Cost += paid;
        s.Calls += calls;
    }

    /// <summary>The number of requests with an escalation (counted apart when built from rollups).</summary>
    internal long? EscalatedRequests { get; set; }

    /// <summary>The latest records, newest first (read apart when built from rollups).</summary>
    internal void SetRecent(IEnumerable<LedgerRecord> newestFirst)
    {
        _recent.Clear();
        foreach (var record in newestFirst.Take(_options.RecentCount).Reverse())
        {
            _recent.Enqueue(Recent(record));
        }
    }

    private AuditRecentRecord Recent(LedgerRecord record) => new(
        record.Timestamp, record.RequestId, record.TaskLabel, record.KeyId, record.RequestedModel, ServedModel(_prices, record),
        record.Policy, record.Reason, record.Attempt, record.EscalatedFrom, StatusCode(record.Status), record.Cost?.Total);

    private static TokenUsage LargestCall(LedgerRollup row) => new(row.MaxPromptTokens, row.MaxOutputTokens, InferenceGeo: row.InferenceGeo);

    private bool Straddles(string model, LedgerRollup row, DateTimeOffset hour) =>
        _prices.TryGetPrice(model, hour, out var price) && price.LongContext is { } lc
        && row.MinPromptTokens <= lc.ThresholdTokens && row.MaxPromptTokens > lc.ThresholdTokens;

    private static List<DateTimeOffset> ChangeInstants(PriceBook prices)
    {
        var instants = new List<DateTimeOffset>();
        foreach (var entry in prices.Entries)
        {
            if (entry.Retirement is { } retirement)
            {
                instants.Add(retirement);
            }

            foreach (var period in entry.Periods)
            {
                instants.Add(period.EffectiveFrom);
                if (period.EffectiveTo is { } to)
                {
                    instants.Add(to);
                }
            }
        }

        foreach (var tool in prices.ServerTools)
        {
            foreach (var period in tool.Periods)
            {
                instants.Add(period.EffectiveFrom);
                if (period.EffectiveTo is { } to)
                {
                    instants.Add(to);
                }
            }
        }

        return instants;
    }

    private void AddCalls(in Calls c)
    {
        var n = c.Count;
        if (_first is null || c.First < _first)
        {
            _first = c.First;
        }

        if (_last is null || c.Last > _last)
        {
            _last = c.Last;
        }

        if (c.Routed && _options.RoutingStart is null && (_routingStart is null || c.First < _routingStart))
        {
            _routingStart = c.First;
        }

        var model = c.Model;
        var cost = c.Cost;
        var paid = cost ?? 0m;
        var unpriced = cost is null ? n : 0L;
        _calls += n;
        _unpriced += unpriced;
        _total += paid;
        // A routing call (the meta-router's classification) is part of its request's spend, but is neither the request's
        // first attempt nor a retry, and a single-model counterfactual would not have made it.
        var routingCall = c.AttemptKind == 0;
        var firstAttempt = c.AttemptKind == 1;
        if (firstAttempt)
        {
            _requests += n;
        }

        Get(_byModel, model).Add(n, paid, unpriced);
        var usage = c.Usage;
        var effortKey = (model, c.Effort ?? None);
        if (!_byModelEffort.TryGetValue(effortKey, out var effort))
        {
            _byModelEffort[effortKey] = effort = new EffortAcc();
        }

        effort.Calls += n;
        effort.Cost += paid;
        effort.Unpriced += unpriced;
        effort.PromptTokens += usage.TotalInputTokens;
        effort.OutputTokens += usage.OutputTokens;
        effort.DefaultCalls += c.EffortDefaultCalls;

        // Dropped thinking: reasoning paid for once (as output) and not reused.
        if (c.ThinkingCalls > 0)
        {
            _thinkingBlocksDropped += c.ThinkingBlocks;
            _thinkingDroppedCalls += c.ThinkingCalls;
            _thinkingDroppedCost += c.ThinkingCost;
        }

        Get(_byKey, c.KeyId ?? None).Add(n, paid, unpriced);
        if (c.DisconnectedCalls > 0)
        {
            // paid for a client who left: by whom
            Get(_disconnectsByKey, c.KeyId ?? None).Add(c.DisconnectedCalls, c.DisconnectedCost, cost is null ? c.DisconnectedCalls : 0L);
        }

        _estimatedCalls += c.EstimatedCalls;
        if (c.Overrun != 0m)
        {
            // charged to no key: the upstream billed it beyond what the key's cap let it be charged (docs/keys-and-budgets.md)
            var key = c.KeyId ?? None;
            _overrunByKey[key] = _overrunByKey.GetValueOrDefault(key) + c.Overrun;
        }

        var day = c.First.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        Get(_byDay, day).Add(n, paid, unpriced);
        if (!_byDayModel.TryGetValue(day, out var dayModels))
        {
            _byDayModel[day] = dayModels = new Dictionary<string, decimal>(StringComparer.Ordinal);
        }

        dayModels[model] = dayModels.GetValueOrDefault(model) + paid;
        var tier = _prices.TryGetEntry(model, out var entry) && entry.Family is { Length: > 0 } family ? family : "other";
        Get(_byTier, tier).Add(n, paid, unpriced);

        var hasTokens = c.HasTokens;
        var at = c.First;
        // Repriced figures cover the priced calls only, as the recorded totals do (see the remarks above).
        var priced = cost is not null;
        if (!priced)
        {
            _unpricedPromptTokens += usage.TotalInputTokens;
            _unpricedOutputTokens += usage.OutputTokens;
        }

        var repriceable = hasTokens && priced;
        var priceable = repriceable && _prices.TryGetPrice(model, at, out _);
        var perCall = c.PromptTokensPerCall; // the long-context threshold is judged per call, not on a sum
        var sentEffort = WhatIfRepricing.SentEffort(c.Effort, c.EffortDefaultCalls >= c.Count); // a rollup row here passed CanAddRollups

        // Caching and batching, priced on the model's own rates.
        if (hasTokens)
        {
            _callsWithTokens += n;
            _promptTokens += usage.TotalInputTokens;
            _cacheRead += usage.CacheReadTokens;
            _cacheWrite += usage.CacheWrite5mTokens + usage.CacheWrite1hTokens;
            _callsWithCacheRead += c.CacheReadCalls;
        }

        if (priceable)
        {
            var actual = _prices.Cost(model, usage, at, perCall).Total;
            if (usage.CacheReadTokens > 0)
            {
                var uncached = usage with { InputTokens = usage.InputTokens + usage.CacheReadTokens, CacheReadTokens = 0 };
                _readSavings += _prices.Cost(model, uncached, at, perCall).Total - actual;
            }

            if (usage.CacheWrite5mTokens + usage.CacheWrite1hTokens > 0)
            {
                var unwritten = usage with { InputTokens = usage.InputTokens + usage.CacheWrite5mTokens + usage.CacheWrite1hTokens, CacheWrite5mTokens = 0, CacheWrite1hTokens = 0 };
                _writePremium += actual - _prices.Cost(model, unwritten, at, perCall).Total;
            }

            if (usage.ServiceTier == ServiceTier.Batch)
            {
                _batchSavings += _prices.Cost(model, usage with { ServiceTier = ServiceTier.Standard }, at, perCall).Total - actual;
            }
        }

        if (usage.ServiceTier == ServiceTier.Batch)
        {
            _batchCalls += n;
            _batchCost += paid;
        }

        // Escalations and retries.
        var task = Get(_tasks, c.TaskLabel ?? None);
        if (task.Repriced.Length == 0)
        {
            task.Repriced = new decimal[_targets.Length];
            task.Infeasible = new long[_targets.Length];
        }

        task.Calls += n;
        task.Cost += paid;
        task.Unpriced += unpriced;
        if (routingCall)
        {
            _routingCalls += n;
            _routingCallCost += paid;
        }
        else if (c.EscalatedFrom is { } from)
        {
            _escalations += n;
            _escalationCost += paid;
            var path = task.Path(_prices.TryResolveId(from, out var fromId) ? fromId : from, _targets.Length);
            path.Escalations += n;
            path.EscalationCost += paid;
            path.Targets[model] = path.Targets.GetValueOrDefault(model) + n;
        }
        else if (!firstAttempt)
        {
            _retries += n;
            _retryCost += paid;
            var path = task.Path(model, _targets.Length);
            path.Retries += n;
            path.RetryCost += paid;
        }
        else
        {
            task.Requests += n;
            task.FirstModels[model] = task.FirstModels.GetValueOrDefault(model) + n;
            var path = task.Path(model, _targets.Length);
            path.Requests += n;
            path.FirstCost += paid;
            if (repriceable)
            {
                for (var i = 0; i < _targets.Length; i++)
                {
                    var (firstRepriced, firstInfeasible) = Reprice(_targets[i], usage, c.LargestCall, at, paid, perCall, sentEffort);
                    path.FirstRepriced[i] += firstRepriced;
                    path.FirstInfeasible[i] += firstInfeasible ? n : 0;
                }
            }
        }

        // Counterfactuals, overall and per task.
        if (repriceable && !routingCall)
        {
            for (var i = 0; i < _targets.Length; i++)
            {
                var (repriced, infeasible) = Reprice(_targets[i], usage, c.LargestCall, at, paid, perCall, sentEffort);
                _repriced[i] += repriced;
                task.Repriced[i] += repriced;
                if (infeasible)
                {
                    _infeasible[i] += n;
                    _infeasibleUsd[i] += paid;
                    task.Infeasible[i] += n;
                }
            }
        }
    }
    /// <summary>The report over everything added so far.</summary>
    public AuditReport Build()
    {
        var spanStart = _options.From ?? _first;
        var spanEnd = _options.To ?? _last;
        var span = spanStart is { } s && spanEnd is { } e ? e - s : TimeSpan.Zero;
        if (span < TimeSpan.FromDays(1))
        {
            span = TimeSpan.FromDays(1);
        }

        var factor = (decimal)AverageMonth.Ticks / span.Ticks;

        var tiers = _byTier
            .Select(pair => new AuditTierShare(pair.Key, pair.Value.Calls, Share(pair.Value.Calls, _calls), pair.Value.Cost, _total == 0m ? 0m : pair.Value.Cost / _total))
            .OrderByDescending(t => t.Calls).ThenBy(t => t.Tier, StringComparer.Ordinal)
            .ToList();

        var sessionCosts = new List<decimal>(_sessions.Count);
        var before = new List<decimal>();
        var after = new List<decimal>();
        foreach (var session in _sessions.Values)
        {
            sessionCosts.Add(session.Cost);
            (_routingStart is { } start && session.First < start ? before : after).Add(session.Cost);
        }

        var bothPeriods = _routingStart is not null && before.Count > 0 && after.Count > 0;

        var counterfactuals = new List<AuditCounterfactual>
        {
            Counterfactual("all-on-top", _top),
        };
        if (_baseline is not null)
        {
            counterfactuals.Add(Counterfactual("all-on-baseline", _baseline));
        }

        return new AuditReport
        {
            From = _options.From,
            To = _options.To,
            FirstRecord = _first,
            LastRecord = _last,
            RoutingStart = _routingStart,
            Calls = _calls,
            UnpricedCalls = _unpriced,
            UnpricedPromptTokens = _unpricedPromptTokens,
            UnpricedOutputTokens = _unpricedOutputTokens,
            TotalUsd = _total,
            MonthlyFactor = factor,
            ByModel = Buckets(_byModel),
            ByModelAndEffort = _byModelEffort
                .Select(pair => new AuditEffortBucket(
                    pair.Key.Model, pair.Key.Effort, pair.Value.Calls, pair.Value.PromptTokens, pair.Value.OutputTokens, pair.Value.Cost,
                    pair.Value.Unpriced, pair.Value.DefaultCalls, Share(pair.Value.DefaultCalls, pair.Value.Calls)))
                .OrderByDescending(b => b.CostUsd).ThenByDescending(b => b.Calls)
                .ThenBy(b => b.Model, StringComparer.Ordinal).ThenBy(b => b.Effort, StringComparer.Ordinal)
                .ToList(),
            ByTask = Buckets(_tasks.ToDictionary(pair => pair.Key, pair => new Bucket { Calls = pair.Value.Calls, Cost = pair.Value.Cost, Unpriced = pair.Value.Unpriced })),
            ByKey = Buckets(_byKey),
            ByDay = _byDay.Select(pair => pair.Value.ToBucket(pair.Key)).ToList(),
            ByDayAndModel = _byDayModel.ToDictionary(pair => pair.Key, pair => (IReadOnlyDictionary<string, decimal>)new SortedDictionary<string, decimal>(pair.Value, StringComparer.Ordinal), StringComparer.Ordinal),
            Sessions = AuditSessionStats.Of(sessionCosts),
            SessionsBeforeRouting = bothPeriods ? AuditSessionStats.Of(before) : null,
            SessionsAfterRouting = bothPeriods ? AuditSessionStats.Of(after) : null,
            Tiers = tiers,
            Cache = new AuditCacheStats(
                _promptTokens, _cacheRead, _cacheWrite, Share(_cacheRead, _promptTokens), _callsWithCacheRead,
                Share(_callsWithCacheRead, _callsWithTokens), _readSavings, _writePremium, _readSavings - _writePremium),
            Batch = new AuditBatchStats(_batchCalls, Share(_batchCalls, _calls), _batchCost, _batchSavings),
            Escalations = new AuditEscalationStats(_requests, EscalatedRequests ?? _escalatedRequests.Count, Share(EscalatedRequests ?? _escalatedRequests.Count, _requests), _escalations, _escalationCost, _retries, _retryCost, _routingCalls, _routingCallCost),
            DroppedThinking = new AuditDroppedThinking(_thinkingBlocksDropped, _thinkingDroppedCalls, _thinkingDroppedCost),
            ClientDisconnectsByKey = Buckets(_disconnectsByKey),
            OverrunByKey = _overrunByKey
                .Select(pair => new AuditKeyOverrun(pair.Key, pair.Value))
                .OrderByDescending(o => o.OverrunUsd).ThenBy(o => o.Key, StringComparer.Ordinal)
                .ToList(),
            EstimatedUsageCalls = _estimatedCalls,
            Counterfactuals = counterfactuals,
            Flags = Flags(tiers, factor),
            TaskCosts = _tasks.OrderBy(pair => pair.Key, StringComparer.Ordinal).Select(pair => TaskCost(pair.Key, pair.Value)).ToList(),
            Recent = _recent.Reverse().ToList(),
        };
    }

    private List<AuditFlag> Flags(List<AuditTierShare> tiers, decimal factor)
    {
        var flags = new List<AuditFlag>();
        foreach (var (tier, bound) in _options.TierCallShareBounds.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            var share = tiers.FirstOrDefault(t => string.Equals(t.Tier, tier, StringComparison.OrdinalIgnoreCase));
            if (share is not null && share.CallShare > bound)
            {
                flags.Add(new AuditFlag(AuditFlagKind.TierShare, share.Tier,
                    $"{share.Tier} takes {Percent(share.CallShare)} of calls ({share.Calls} of {_calls}), past its bound of {Percent(bound)}."));
            }
        }

        foreach (var (name, task) in _tasks.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            var monthly = task.Cost * factor;
            if (monthly < _options.LowVolumeMonthlyUsd)
            {
                flags.Add(new AuditFlag(AuditFlagKind.LowVolumeTask, name,
                    $"task '{name}' runs at about ${Round(monthly)} a month ({task.Calls} calls in the range), under ${Round(_options.LowVolumeMonthlyUsd)}: routing it can save at most that; pin it to one model."));
            }
        }

        foreach (var session in _sessions.OrderBy(pair => pair.Key, StringComparer.Ordinal).Select(pair => pair.Value))
        {
            var minutes = Math.Max((decimal)(session.Last - session.First).Ticks / TimeSpan.TicksPerMinute, 1m);
            var velocity = session.Cost / minutes;
            if (session.Cost >= _options.RunawayMinSessionUsd && velocity >= _options.RunawayUsdPerMinute)
            {
                flags.Add(new AuditFlag(AuditFlagKind.RunawaySession, session.Id,
                    $"session '{session.Id}'{(session.KeyId is null ? string.Empty : $" of key {session.KeyId}")} spent ${Round(session.Cost)} in {session.Calls} calls at ${Round(velocity)} a minute, at or past ${Round(_options.RunawayUsdPerMinute)} a minute: a runaway loop?"));
            }
        }

        foreach (var (model, bucket) in _byModel.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            if (bucket.Unpriced > 0)
            {
                flags.Add(new AuditFlag(AuditFlagKind.UnpricedModel, model,
                    $"{bucket.Unpriced} call(s) to {model} have no price in the model catalog and are left out of these totals and bills: add its price (ModelMix:Prices or --prices FILE) and reprice them with `modelmix savings`."));
            }
        }

        if (_thinkingBlocksDropped > 0)
        {
            flags.Add(new AuditFlag(AuditFlagKind.DroppedThinking, "thinking",
                $"the API dropped {_thinkingBlocksDropped} thinking block(s) from the prompts of {_thinkingDroppedCalls} call(s) costing ${Exact(_thinkingDroppedCost)}: dropped thinking is money spent twice (reasoning paid for once and not reused)."));
        }

        if (_disconnectsByKey.Count > 0)
        {
            var calls = _disconnectsByKey.Values.Sum(bucket => bucket.Calls);
            var cost = _disconnectsByKey.Values.Sum(bucket => bucket.Cost);
            var top = _disconnectsByKey.OrderByDescending(pair => pair.Value.Cost).ThenBy(pair => pair.Key, StringComparer.Ordinal).First();
            flags.Add(new AuditFlag(AuditFlagKind.ClientDisconnected, "client-disconnected",
                $"{calls} call(s) costing ${Exact(cost)} were paid for clients that hung up before the answer was complete (most: key {top.Key}, {top.Value.Calls} call(s), ${Exact(top.Value.Cost)}); {_estimatedCalls} record(s) carry an estimated usage (docs/ledger.md)."));
        }

        return flags;
    }

    private AuditTaskCost TaskCost(string name, TaskAcc task) => new()
    {
        Task = name,
        Calls = task.Calls,
        Requests = task.Requests,
        CostUsd = task.Cost,
        MainModel = task.FirstModels.OrderByDescending(pair => pair.Value).ThenBy(pair => pair.Key, StringComparer.Ordinal).Select(pair => pair.Key).FirstOrDefault(),
        RepricedUsd = Targets(task.Repriced),
        InfeasibleCalls = Infeasible(task.Infeasible),
        Paths = task.Paths.OrderBy(pair => pair.Key, StringComparer.Ordinal).Select(pair => new AuditFirstModelPath
        {
            Model = pair.Key,
            Requests = pair.Value.Requests,
            FirstAttemptUsd = pair.Value.FirstCost,
            RetryUsd = pair.Value.RetryCost,
            Retries = pair.Value.Retries,
            EscalationUsd = pair.Value.EscalationCost,
            Escalations = pair.Value.Escalations,
            EscalationTarget = pair.Value.Targets.OrderByDescending(t => t.Value).ThenBy(t => t.Key, StringComparer.Ordinal).Select(t => t.Key).FirstOrDefault(),
            FirstAttemptRepricedUsd = Targets(pair.Value.FirstRepriced),
            FirstAttemptInfeasibleCalls = Infeasible(pair.Value.FirstInfeasible),
        }).ToList(),
    };

    private SortedDictionary<string, decimal> Targets(decimal[] values)
    {
        var map = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        for (var i = 0; i < _targets.Length; i++)
        {
            map[_targets[i]] = values[i];
        }

        return map;
    }

    /// <summary>Target → calls it could not have served, for the targets with any.</summary>
    private SortedDictionary<string, long> Infeasible(long[] counts)
    {
        var map = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < _targets.Length; i++)
        {
            if (counts[i] > 0)
            {
                map[_targets[i]] = counts[i];
            }
        }

        return map;
    }

    private AuditCounterfactual Counterfactual(string name, string model)
    {
        var index = Array.IndexOf(_targets, model);
        var cost = _repriced[index];
        return new AuditCounterfactual(name, model, cost, _total, cost - _total) { InfeasibleCalls = _infeasible[index], InfeasibleUsd = _infeasibleUsd[index] };
    }

    /// <summary>
    /// A call's tokens on another model, at the rates in force when it was made (or, for a model not yet priced then,
    /// at its first price), by <see cref="WhatIfRepricing"/> (a fast-mode call moved to a model without fast mode is priced
    /// at standard speed). A call the target could not have served (context window, maximum output, an inference_geo or
    /// an effort it refuses) is infeasible: it stays at what it cost as recorded (<paramref name="paid"/>) and is counted.
    /// </summary>
    private (decimal Cost, bool Infeasible) Reprice(string target, TokenUsage usage, in TokenUsage largestCall, DateTimeOffset at, decimal paid, long promptTokensPerCall, ModelMix.Catalog.EffortLevel sentEffort)
    {
        if (WhatIfRepricing.Check(_prices, target, largestCall, at, sentEffort) != ModelMix.Catalog.RuleViolation.None)
        {
            return (paid, true);
        }

        if (!_prices.TryGetPrice(target, at, out _))
        {
            var periods = _prices.GetEntry(target).Periods;
            at = at < periods[0].EffectiveFrom ? periods[0].EffectiveFrom : periods[^1].EffectiveFrom;
        }

        return (WhatIfRepricing.Cost(_prices, target, usage, at, promptTokensPerCall), false);
    }

    private static List<AuditBucket> Buckets(Dictionary<string, Bucket> buckets) =>
        buckets.Select(pair => pair.Value.ToBucket(pair.Key))
            .OrderByDescending(b => b.CostUsd).ThenByDescending(b => b.Calls).ThenBy(b => b.Name, StringComparer.Ordinal)
            .ToList();

    private static T Get<T>(IDictionary<string, T> map, string key)
        where T : new()
    {
        if (!map.TryGetValue(key, out var value))
        {
            map[key] = value = new T();
        }

        return value;
    }

    private static decimal Share(long part, long whole) => whole == 0 ? 0m : (decimal)part / whole;

    private static string Percent(decimal fraction) => (fraction * 100m).ToString("0.#", CultureInfo.InvariantCulture) + "%";

    private static string Round(decimal usd) => usd.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>An exact amount without trailing zeros (0.02550 → 0.0255).</summary>
    private static string Exact(decimal usd) => (usd / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);

    private static string StatusCode(LedgerStatus status) => status switch
    {
        LedgerStatus.Ok => "ok",
        LedgerStatus.Error => "error",
        LedgerStatus.Failed => "failed",
        LedgerStatus.Unpriced => "unpriced",
        LedgerStatus.OutcomeUnknown => "outcome_unknown",
        _ => status.ToString(),
    };

    private sealed class Bucket
    {
        public long Calls;
        public long Unpriced;
        public decimal Cost;

        public void Add(long calls, decimal cost, long unpriced)
        {
            Calls += calls;
            Cost += cost;
            Unpriced += unpriced;
        }

        public AuditBucket ToBucket(string name) => new(name, Calls, Cost, Unpriced);
    }

    private sealed class EffortAcc
    {
        public long Calls;
        public long Unpriced;
        public long DefaultCalls;
        public long PromptTokens;
        public long OutputTokens;
        public decimal Cost;
    }

    /// <summary>Calls that share everything the audit groups by: one record, or one rollup row.</summary>
    private readonly record struct Calls
    {
        public DateTimeOffset First { get; init; }
        public DateTimeOffset Last { get; init; }
        public long Count { get; init; }
        public string? KeyId { get; init; }
        public string? TaskLabel { get; init; }
        public bool Routed { get; init; }
        public string Model { get; init; }
        public string? Effort { get; init; }
        public int AttemptKind { get; init; }
        public string? EscalatedFrom { get; init; }
        public TokenUsage Usage { get; init; }
        public decimal? Cost { get; init; }
        public long EffortDefaultCalls { get; init; }
        public long ThinkingBlocks { get; init; }
        public long ThinkingCalls { get; init; }
        public decimal ThinkingCost { get; init; }
        public long DisconnectedCalls { get; init; }
        public decimal DisconnectedCost { get; init; }
        public long EstimatedCalls { get; init; }
        public long CacheReadCalls { get; init; }
        public bool HasTokens { get; init; }
        public long PromptTokensPerCall { get; init; }

        /// <summary>
        /// What a target's limits are judged on (context window, maximum output): the call's own usage, or for a rollup
        /// row its largest prompt and largest output (<see cref="CanAddRollups"/> admits a row only when its largest
        /// call fits a target or its smallest does not, so that judgement holds for every call of the row). Never the
        /// row's summed usage, which no single call sent.
        /// </summary>
        public TokenUsage LargestCall { get; init; }

        /// <summary>The part of the cost charged to no key (upstream overrun beyond a cap), summed.</summary>
        public decimal Overrun { get; init; }
    }

    private sealed class SessionAcc
    {
        public string Id = string.Empty; // the session as the caller named it
        public string? KeyId; // whose session it is
        public DateTimeOffset First;
        public DateTimeOffset Last;
        public decimal Cost;
        public long Calls;
    }

    private sealed class TaskAcc
    {
        public long Calls;
        public long Unpriced;
        public long Requests;
        public decimal Cost;
        public decimal[] Repriced = [];
        public long[] Infeasible = [];
        public readonly Dictionary<string, long> FirstModels = new(StringComparer.Ordinal);
        public readonly Dictionary<string, PathAcc> Paths = new(StringComparer.Ordinal);

        public PathAcc Path(string model, int targets)
        {
            if (!Paths.TryGetValue(model, out var path))
            {
                Paths[model] = path = new PathAcc { FirstRepriced = new decimal[targets], FirstInfeasible = new long[targets] };
            }

            return path;
        }
    }

    private sealed class PathAcc
    {
        public long Requests;
        public decimal FirstCost;
        public long Retries;
        public decimal RetryCost;
        public long Escalations;
        public decimal EscalationCost;
        public decimal[] FirstRepriced = [];
        public long[] FirstInfeasible = [];
        public readonly Dictionary<string, long> Targets = new(StringComparer.Ordinal);
    }
}
