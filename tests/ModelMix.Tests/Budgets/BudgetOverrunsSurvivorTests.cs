using ModelMix.Budgets;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// <see cref="BudgetOverruns"/>' edges (written for the <c>budgets</c> mutation run, docs/testing.md "Seventh session"):
/// a failed flush, a zero worst case, the hold's clamp and rounding, a second overrun during a drain, tickets completed
/// twice. No timers: each wait is on a signal or has a deadline.
/// </summary>
public sealed class BudgetOverrunsSurvivorTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_flush_that_fails_still_reopens_the_key()
    {
        var overruns = new BudgetOverruns(_ => Task.FromException(new InvalidOperationException("the store is down")));
        var liar = await overruns.AdmitAsync("key:a", CancellationToken.None);
        Assert.True(liar.Charged(worstCaseUsd: 0.001m, heldUsd: 0.001m, chargedUsd: 0.002m, beyondMaxTokens: false));
        var waiting = overruns.AdmitAsync("key:a", CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);

        liar.Complete();

        var admitted = await waiting.WaitAsync(Deadline); // the ledger retries the records; the key is not closed for good
        admitted.Complete();
        Assert.Equal(0, overruns.TrackedScopes);
    }

    [Fact]
    public async Task A_lie_about_max_tokens_on_a_request_with_no_worst_case_does_not_change_the_factor()
    {
        var reports = new List<BudgetOverrun>();
        var overruns = new BudgetOverruns(_ => Task.CompletedTask, reports.Add);
        var ticket = await overruns.AdmitAsync("key:a", CancellationToken.None);

        Assert.True(ticket.Charged(worstCaseUsd: 0m, heldUsd: 0m, chargedUsd: 0.001m, beyondMaxTokens: true));
        ticket.Complete();

        Assert.Equal(1m, overruns.Factor); // no ratio to a worst case of 0
        Assert.Equal(1m, Assert.Single(reports).Factor);
    }

    [Fact]
    public async Task Output_beyond_max_tokens_is_an_overrun_even_when_it_cost_no_more_than_the_hold()
    {
        var reports = new List<BudgetOverrun>();
        var overruns = new BudgetOverruns(_ => Task.CompletedTask, reports.Add);
        var ticket = await overruns.AdmitAsync("key:a", CancellationToken.None);

        // Held $0.002 (a distrusted hold), worst case $0.001, charged $0.0015 ≤ the hold but for more than max_tokens:
        // ratio 0.0015 / 0.001 = 1.5.
        Assert.True(ticket.Charged(worstCaseUsd: 0.001m, heldUsd: 0.002m, chargedUsd: 0.0015m, beyondMaxTokens: true));
        ticket.Complete();

        Assert.Equal(1.5m, overruns.Factor);
        Assert.Equal(("key:a", 0.002m, 0.0015m, true, 1.5m, true), ToTuple(Assert.Single(reports)));
    }

    [Fact]
    public async Task The_ratio_is_rounded_up_to_the_hundredth_and_a_hold_to_the_nano_dollar_below_the_largest_amount()
    {
        var overruns = new BudgetOverruns(_ => Task.CompletedTask);
        var ticket = await overruns.AdmitAsync("key:a", CancellationToken.None);

        // 0.0030001 / 0.001 = 3.0001: rounded up to 3.01, never down to 3.
        ticket.Charged(worstCaseUsd: 0.001m, heldUsd: 0.001m, chargedUsd: 0.0030001m, beyondMaxTokens: true);
        ticket.Complete();
        Assert.Equal(3.01m, overruns.Factor);

        Assert.Equal(0.000000004m, overruns.Scale(0.000000001m)); // 1 nano-dollar × 3.01 = 3.01 nano-dollars, rounded up to 4
        Assert.Equal(1_000_000_000m, overruns.Scale(500_000_000m)); // 1.505e9 USD, clamped to the largest amount (1e9)
        Assert.Equal(0m, overruns.Scale(0m));
    }

    [Fact]
    public async Task A_second_overrun_while_the_key_drains_does_not_start_another_drain()
    {
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var flushes = 0;
        var reports = new List<BudgetOverrun>();
        var overruns = new BudgetOverruns(
            async _ =>
            {
                Interlocked.Increment(ref flushes);
                await flushed.Task;
            },
            reports.Add);
        var first = await overruns.AdmitAsync("key:a", CancellationToken.None);
        var second = await overruns.AdmitAsync("key:a", CancellationToken.None);

        first.Charged(0.001m, 0.001m, 0.002m, beyondMaxTokens: false);
        second.Charged(0.001m, 0.001m, 0.003m, beyondMaxTokens: false);
        Assert.Equal([true, false], reports.Select(report => report.DrainStarted));

        var waiting = overruns.AdmitAsync("key:a", CancellationToken.None).AsTask();
        first.Complete();
        second.Complete();
        flushed.SetResult();
        (await waiting.WaitAsync(Deadline)).Complete();
        Assert.Equal(1, Volatile.Read(ref flushes)); // one flush for the one drain
        Assert.Equal(0, overruns.TrackedScopes);
    }

    [Fact]
    public async Task A_ticket_completed_twice_counts_once()
    {
        var overruns = new BudgetOverruns(_ => Task.CompletedTask);
        var first = await overruns.AdmitAsync("key:a", CancellationToken.None);
        var second = await overruns.AdmitAsync("key:a", CancellationToken.None);

        first.Complete();
        first.Complete();
        Assert.Equal(1, overruns.TrackedScopes); // `second` is still in flight

        second.Complete();
        Assert.Equal(0, overruns.TrackedScopes);
    }

    [Fact]
    public async Task An_admission_during_a_drain_is_still_tracked_when_the_drain_ends()
    {
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var overruns = new BudgetOverruns(_ => flushed.Task);
        var liar = await overruns.AdmitAsync("key:a", CancellationToken.None);
        liar.Charged(0.001m, 0.001m, 0.002m, beyondMaxTokens: false);
        var waiting = overruns.AdmitAsync("key:a", CancellationToken.None).AsTask();
        liar.Complete();
        flushed.SetResult();

        var admitted = await waiting.WaitAsync(Deadline);
        Assert.Equal(1, overruns.TrackedScopes); // admitted after the drain: its scope is kept while it runs
        var next = await overruns.AdmitAsync("key:a", CancellationToken.None).AsTask().WaitAsync(Deadline); // not draining any more
        admitted.Complete();
        next.Complete();
        Assert.Equal(0, overruns.TrackedScopes);
    }

    [Fact]
    public async Task Bad_arguments_are_refused_by_name()
    {
        Assert.Equal("settled", Assert.Throws<ArgumentNullException>(() => new BudgetOverruns(null!)).ParamName);
        var overruns = new BudgetOverruns(_ => Task.CompletedTask);
        Assert.Equal("scope", (await Assert.ThrowsAsync<ArgumentNullException>(() => overruns.AdmitAsync(null!, CancellationToken.None).AsTask())).ParamName);
    }

    private static (string, decimal, decimal, bool, decimal, bool) ToTuple(BudgetOverrun report) =>
        (report.Scope, report.HeldUsd, report.ChargedUsd, report.BeyondMaxTokens, report.Factor, report.DrainStarted);
}
