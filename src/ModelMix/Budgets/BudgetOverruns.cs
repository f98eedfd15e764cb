namespace ModelMix.Budgets;

/// <summary>
/// Bounds the damage of answers that cost more than their hold (issue 20 item 5, docs/keys-and-budgets.md "Overshoot"):
/// an upstream that reports more output than the request's <c>max_tokens</c> (which the Messages API never does), or
/// input the request did not show. Per process:
/// <list type="bullet">
/// <item><b>Drain.</b> Once a request of a budget scope (a key) costs more than it held, that scope's new requests wait
/// (<see cref="AdmitAsync"/>) until every request of the scope admitted before them has ended and the costs they
/// recorded are in the store (<c>settled</c>: the ledger's flush, whose transaction charges the budget) — so the next
/// admission is decided against counters that include the overrun, not against holds it already went past.</item>
/// <item><b>Distrust.</b> An answer whose output exceeds the request's <c>max_tokens</c> is an upstream fault: from then
/// on every budgeted request of this process holds its worst case × <see cref="Factor"/>, the largest ratio of such an
/// answer's cost to the worst case it was held at. An upstream that keeps overstating by the same ratio can then push no
/// key past its cap again.</item>
/// </list>
/// The ledger is untouched: every answer is recorded and charged at the usage the upstream reported.
/// </summary>
internal sealed class BudgetOverruns
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Scope> _scopes = new(StringComparer.Ordinal);
    private readonly Func<CancellationToken, Task> _settled;
    private readonly Action<BudgetOverrun>? _report;
    private decimal _factor = 1m;

    /// <param name="settled">Completes once the costs of requests that ended are in the budget store (the ledger's flush).</param>
    /// <param name="report">Told of each overrun (for the log and metrics).</param>
    public BudgetOverruns(Func<CancellationToken, Task> settled, Action<BudgetOverrun>? report = null)
    {
        ArgumentNullException.ThrowIfNull(settled);
        _settled = settled;
        _report = report;
    }

    /// <summary>
    /// What every budgeted request's worst case is multiplied by: 1 until an answer's output exceeded its request's
    /// <c>max_tokens</c>, then the largest ratio of such an answer's cost to its request's worst case (never less).
    /// </summary>
    public decimal Factor
    {
        get
        {
            lock (_lock)
            {
                return _factor;
            }
        }
    }

    /// <summary>The amount to hold for a request whose documented worst case is <paramref name="worstCaseUsd"/>: × <see cref="Factor"/>, rounded up to a nano-dollar (at factor 1, <paramref name="worstCaseUsd"/> as given).</summary>
    public decimal Scale(decimal worstCaseUsd)
    {
        var factor = Factor;
        return factor == 1m ? worstCaseUsd : BudgetMoney.ToUsd(BudgetMoney.ToNanos(Math.Min(worstCaseUsd * factor, BudgetMoney.MaxUsd)));
    }

    /// <summary>How many scopes are tracked (requests in flight or draining); for tests.</summary>
    public int TrackedScopes
    {
        get
        {
            lock (_lock)
            {
                return _scopes.Count;
            }
        }
    }

    /// <summary>
    /// Admits a request of <paramref name="scope"/>: at once, unless the scope is draining after an overrun — then once
    /// the requests admitted before it ended and their costs are in the store. Complete the ticket when the request's
    /// hold is settled (or was never taken).
    /// </summary>
    public async ValueTask<BudgetOverrunTicket> AdmitAsync(string scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        while (true)
        {
            Task drained;
            lock (_lock)
            {
                if (!_scopes.TryGetValue(scope, out var state))
                {
                    state = new Scope();
                    _scopes[scope] = state;
                }

                if (state.Drain is null)
                {
                    state.InFlight++;
                    return new BudgetOverrunTicket(this, scope, state);
                }

                drained = state.Drain.Task;
            }

            await drained.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A request of <paramref name="ticket"/>'s scope cost <paramref name="chargedUsd"/> against a hold of <paramref name="heldUsd"/>.</summary>
    internal void Overran(BudgetOverrunTicket ticket, decimal worstCaseUsd, decimal heldUsd, decimal chargedUsd, bool beyondMaxTokens)
    {
        decimal factor;
        bool started;
        lock (_lock)
        {
            if (beyondMaxTokens && worstCaseUsd > 0m)
            {
                _factor = Math.Max(_factor, decimal.Ceiling(chargedUsd / worstCaseUsd * 100m) / 100m);
            }

            factor = _factor;
            started = ticket.State.Drain is null;
            ticket.State.Drain ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        _report?.Invoke(new BudgetOverrun(ticket.ScopeName, heldUsd, chargedUsd, beyondMaxTokens, factor, started));
    }

    /// <summary>The request of <paramref name="ticket"/> is over and its hold settled.</summary>
    internal void Complete(BudgetOverrunTicket ticket)
    {
        TaskCompletionSource? drain;
        lock (_lock)
        {
            var state = ticket.State;
            state.InFlight--;
            if (state.InFlight > 0)
            {
                return;
            }

            drain = state.Drain;
            if (drain is null)
            {
                _scopes.Remove(ticket.ScopeName);
                return;
            }
        }

        _ = FinishDrainAsync(ticket.ScopeName, ticket.State, drain);
    }

    /// <summary>Every request admitted before the overrun ended: once their costs are in the store, admissions resume.</summary>
    private async Task FinishDrainAsync(string name, Scope state, TaskCompletionSource drain)
    {
        try
        {
            await _settled(CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // a failed flush must not leave the scope closed for good: its records are retried by the ledger
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        lock (_lock)
        {
            state.Drain = null;
            if (state.InFlight == 0)
            {
                _scopes.Remove(name);
            }
        }

        drain.TrySetResult();
    }

    internal sealed class Scope
    {
        public int InFlight { get; set; }

        public TaskCompletionSource? Drain { get; set; }
    }
}

/// <summary>One budgeted request admitted by <see cref="BudgetOverruns.AdmitAsync"/>.</summary>
internal sealed class BudgetOverrunTicket
{
    private readonly BudgetOverruns _owner;
    private int _completed;
    private int _overran;

    internal BudgetOverrunTicket(BudgetOverruns owner, string scope, BudgetOverruns.Scope state)
    {
        _owner = owner;
        ScopeName = scope;
        State = state;
    }

    /// <summary>The budget scope (a key's) the request was admitted under.</summary>
    public string ScopeName { get; }

    internal BudgetOverruns.Scope State { get; }

    /// <summary>
    /// Reports what the request has cost so far; when it is more than <paramref name="heldUsd"/> (the first time), the
    /// scope drains, and when <paramref name="beyondMaxTokens"/> the process distrusts the upstream
    /// (<see cref="BudgetOverruns.Factor"/>). Returns whether this call reported an overrun.
    /// </summary>
    public bool Charged(decimal worstCaseUsd, decimal heldUsd, decimal chargedUsd, bool beyondMaxTokens)
    {
        if (chargedUsd <= heldUsd && !beyondMaxTokens)
        {
            return false;
        }

        if (Interlocked.Exchange(ref _overran, 1) != 0)
        {
            return false;
        }

        _owner.Overran(this, worstCaseUsd, heldUsd, chargedUsd, beyondMaxTokens);
        return true;
    }

    /// <summary>The request is over and its hold is settled (or was never taken). Idempotent.</summary>
    public void Complete()
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            _owner.Complete(this);
        }
    }
}

/// <summary>An answer that cost more than its hold (<see cref="BudgetOverruns"/>).</summary>
/// <param name="Scope">The budget scope (e.g. <c>key:…</c>).</param>
/// <param name="HeldUsd">What the request held.</param>
/// <param name="ChargedUsd">What its recorded answer(s) cost.</param>
/// <param name="BeyondMaxTokens">Whether the upstream reported more output than the request's <c>max_tokens</c>.</param>
/// <param name="Factor">The hold factor in force after this overrun.</param>
/// <param name="DrainStarted">Whether this overrun started the scope's drain (false when it was draining already).</param>
public sealed record BudgetOverrun(string Scope, decimal HeldUsd, decimal ChargedUsd, bool BeyondMaxTokens, decimal Factor, bool DrainStarted);
