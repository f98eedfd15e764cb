using ModelMix.Budgets;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// <see cref="BudgetOverruns"/> (docs/keys-and-budgets.md "Overshoot"): an answer dearer than its hold drains its key —
/// new requests wait for the ones in flight to settle and for their costs to reach the store — and an answer beyond
/// <c>max_tokens</c> scales every later hold by the observed ratio. No timers: each wait is on a signal.
/// </summary>
public sealed class BudgetOverrunsTests
{
    [Fact]
    public async Task Requests_are_admitted_at_once_and_held_at_their_worst_case_while_no_answer_overran()
    {
        var overruns = new BudgetOverruns(_ => Task.CompletedTask);
        var first = await overruns.AdmitAsync("key:a", CancellationToken.None);
        var second = await overruns.AdmitAsync("key:a", CancellationToken.None);
        Assert.False(first.Charged(worstCaseUsd: 0.001m, heldUsd: 0.001m, chargedUsd: 0.001m, beyondMaxTokens: false)); // exactly its hold
        Assert.Equal(0.000275m, overruns.Scale(0.000275m));
        first.Complete();
        second.Complete();
        Assert.Equal(0, overruns.TrackedScopes); // nothing kept per key once its requests ended
    }

    [Fact]
    public async Task After_an_answer_dearer_than_its_hold_the_keys_new_requests_wait_until_the_requests_in_flight_are_settled_and_stored()
    {
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var flushes = 0;
        var overruns = new BudgetOverruns(async _ =>
        {
            Interlocked.Increment(ref flushes);
            await flushed.Task;
        });
        var liar = await overruns.AdmitAsync("key:a", CancellationToken.None);
        var other = await overruns.AdmitAsync("key:a", CancellationToken.None);
        Assert.True(liar.Charged(worstCaseUsd: 0.001m, heldUsd: 0.001m, chargedUsd: 0.0015m, beyondMaxTokens: false)); // input beyond the estimate
        Assert.Equal(1m, overruns.Factor); // not a lie about max_tokens: holds stay as they are

        var waiting = overruns.AdmitAsync("key:a", CancellationToken.None).AsTask();
        var otherKey = await overruns.AdmitAsync("key:b", CancellationToken.None); // another key is not drained
        liar.Complete();
        Assert.False(waiting.IsCompleted); // "other" is still in flight
        other.Complete();
        Assert.False(waiting.IsCompleted); // in flight no more, but its cost is not in the store yet
        Assert.Equal(1, Volatile.Read(ref flushes));
        flushed.SetResult();
        var admitted = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        admitted.Complete();
        otherKey.Complete();
        Assert.Equal(0, overruns.TrackedScopes);
    }

    [Fact]
    public async Task An_answer_beyond_max_tokens_scales_every_later_hold_by_the_observed_ratio()
    {
        var reports = new List<BudgetOverrun>();
        var overruns = new BudgetOverruns(_ => Task.CompletedTask, reports.Add);
        var liar = await overruns.AdmitAsync("key:a", CancellationToken.None);

        // Held $0.000275 (its worst case); the upstream reported 500 output tokens for max_tokens 50: $0.00251.
        // Ratio 0.00251 / 0.000275 = 9.127…, rounded up to 9.13.
        Assert.True(liar.Charged(worstCaseUsd: 0.000275m, heldUsd: 0.000275m, chargedUsd: 0.00251m, beyondMaxTokens: true));
        Assert.False(liar.Charged(worstCaseUsd: 0.000275m, heldUsd: 0.000275m, chargedUsd: 0.003m, beyondMaxTokens: true)); // reported once per request
        liar.Complete();
        Assert.Equal(9.13m, overruns.Factor);

        // 0.000275 × 9.13 = 0.00251075; a key of any scope is held at it from now on.
        Assert.Equal(0.00251075m, overruns.Scale(0.000275m));
        var report = Assert.Single(reports);
        Assert.Equal(("key:a", 0.000275m, 0.00251m, true, 9.13m, true), (report.Scope, report.HeldUsd, report.ChargedUsd, report.BeyondMaxTokens, report.Factor, report.DrainStarted));

        // A smaller lie later does not lower the factor.
        var next = await overruns.AdmitAsync("key:b", CancellationToken.None);
        next.Charged(worstCaseUsd: 0.001m, heldUsd: 0.00913m, chargedUsd: 0.002m, beyondMaxTokens: true);
        next.Complete();
        Assert.Equal(9.13m, overruns.Factor);
    }

    [Fact]
    public async Task A_request_waiting_for_a_drain_stops_waiting_when_its_client_leaves()
    {
        var never = new TaskCompletionSource();
        var overruns = new BudgetOverruns(_ => never.Task);
        var liar = await overruns.AdmitAsync("key:a", CancellationToken.None);
        liar.Charged(0.001m, 0.001m, 0.002m, beyondMaxTokens: false);
        using var left = new CancellationTokenSource();
        var waiting = overruns.AdmitAsync("key:a", left.Token).AsTask();
        await left.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        liar.Complete();
    }
}
