namespace ModelMix.Audit;

internal sealed partial class AuditAccumulator
{
    /// <summary>
    /// Adds everything <paramref name="part"/> summed (calls added with <see cref="AddRollup"/> or <see cref="Add"/>, an
    /// audit built from rollups: no sessions, escalated requests or recent records) to this audit, leaving
    /// <paramref name="part"/> unchanged: the report is then the one this audit would give had it been fed those calls
    /// itself. Every figure is a sum, a minimum or a maximum (exact decimal sums: the order does not change a digit) and
    /// every list of the report is sorted, so the order of the parts does not matter. Both must share the price book and
    /// the options that price calls (<see cref="AuditDayCache"/> keys its parts by them).
    /// </summary>
    internal void Merge(AuditAccumulator part)
    {
        ArgumentNullException.ThrowIfNull(part);
        if (part._targets.Length != _targets.Length || !part._targets.SequenceEqual(_targets, StringComparer.Ordinal))
        {
            throw new ArgumentException("The part was priced on other targets.", nameof(part));
        }

        if (part._first is { } first && (_first is null || first < _first))
        {
            _first = first;
        }

        if (part._last is { } last && (_last is null || last > _last))
        {
            _last = last;
        }

        // Given in the options, the routing start is the same in both; else it is the first routed call of either.
        if (_options.RoutingStart is null && part._routingStart is { } start && (_routingStart is null || start < _routingStart))
        {
            _routingStart = start;
        }

        _calls += part._calls;
        _unpriced += part._unpriced;
        _requests += part._requests;
        _callsWithTokens += part._callsWithTokens;
        _unpricedPromptTokens += part._unpricedPromptTokens;
        _unpricedOutputTokens += part._unpricedOutputTokens;
        _total += part._total;
        _promptTokens += part._promptTokens;
        _cacheRead += part._cacheRead;
        _cacheWrite += part._cacheWrite;
        _callsWithCacheRead += part._callsWithCacheRead;
        _readSavings += part._readSavings;
        _writePremium += part._writePremium;
        _batchCalls += part._batchCalls;
        _batchCost += part._batchCost;
        _batchSavings += part._batchSavings;
        _escalations += part._escalations;
        _retries += part._retries;
        _routingCalls += part._routingCalls;
        _escalationCost += part._escalationCost;
        _retryCost += part._retryCost;
        _routingCallCost += part._routingCallCost;
        _thinkingBlocksDropped += part._thinkingBlocksDropped;
        _thinkingDroppedCalls += part._thinkingDroppedCalls;
        _thinkingDroppedCost += part._thinkingDroppedCost;
        _estimatedCalls += part._estimatedCalls;
        AddArray(_repriced, part._repriced);
        AddArray(_infeasible, part._infeasible);
        AddArray(_infeasibleUsd, part._infeasibleUsd);

        MergeBuckets(_byModel, part._byModel);
        MergeBuckets(_byKey, part._byKey);
        MergeBuckets(_byDay, part._byDay);
        MergeBuckets(_byTier, part._byTier);
        MergeBuckets(_disconnectsByKey, part._disconnectsByKey);
        foreach (var (key, value) in part._byModelEffort)
        {
            if (!_byModelEffort.TryGetValue(key, out var effort))
            {
                _byModelEffort[key] = effort = new EffortAcc();
            }

            effort.Calls += value.Calls;
            effort.Unpriced += value.Unpriced;
            effort.DefaultCalls += value.DefaultCalls;
            effort.PromptTokens += value.PromptTokens;
            effort.OutputTokens += value.OutputTokens;
            effort.Cost += value.Cost;
        }

        foreach (var (day, models) in part._byDayModel)
        {
            if (!_byDayModel.TryGetValue(day, out var mine))
            {
                _byDayModel[day] = mine = new Dictionary<string, decimal>(StringComparer.Ordinal);
            }

            MergeSums(mine, models);
        }

        MergeSums(_overrunByKey, part._overrunByKey);
        foreach (var (name, value) in part._tasks)
        {
            var task = Get(_tasks, name);
            if (task.Repriced.Length == 0)
            {
                task.Repriced = new decimal[_targets.Length];
                task.Infeasible = new long[_targets.Length];
            }

            task.Calls += value.Calls;
            task.Unpriced += value.Unpriced;
            task.Requests += value.Requests;
            task.Cost += value.Cost;
            AddArray(task.Repriced, value.Repriced);
            AddArray(task.Infeasible, value.Infeasible);
            MergeSums(task.FirstModels, value.FirstModels);
            foreach (var (model, theirs) in value.Paths)
            {
                var path = task.Path(model, _targets.Length);
                path.Requests += theirs.Requests;
                path.FirstCost += theirs.FirstCost;
                path.Retries += theirs.Retries;
                path.RetryCost += theirs.RetryCost;
                path.Escalations += theirs.Escalations;
                path.EscalationCost += theirs.EscalationCost;
                AddArray(path.FirstRepriced, theirs.FirstRepriced);
                AddArray(path.FirstInfeasible, theirs.FirstInfeasible);
                MergeSums(path.Targets, theirs.Targets);
            }
        }
    }

    private static void AddArray<T>(T[] into, T[] from)
        where T : System.Numerics.INumber<T>
    {
        for (var i = 0; i < from.Length; i++)
        {
            into[i] += from[i];
        }
    }

    private static void MergeBuckets(IDictionary<string, Bucket> into, IEnumerable<KeyValuePair<string, Bucket>> from)
    {
        foreach (var (name, bucket) in from)
        {
            Get(into, name).Add(bucket.Calls, bucket.Cost, bucket.Unpriced);
        }
    }

    private static void MergeSums<T>(Dictionary<string, T> into, Dictionary<string, T> from)
        where T : System.Numerics.INumber<T>
    {
        foreach (var (name, value) in from)
        {
            into[name] = into.GetValueOrDefault(name, T.Zero) + value;
        }
    }
}
