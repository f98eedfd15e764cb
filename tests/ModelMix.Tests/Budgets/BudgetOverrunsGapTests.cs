using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using ModelMix.Budgets;
using ModelMix.Telemetry;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// Gaps the <c>budgets</c> mutation run left in <see cref="BudgetOverruns"/>, <see cref="BudgetOverrunMetrics"/> and
/// <see cref="BudgetMoney.Format"/> (docs/testing.md, eleventh session, "Worth tests"): a drain that a second overrun
/// joins, a drained key nobody waits on, the hold at factor 1, the overrun metrics' instruments as a listener sees them,
/// and a dollar amount with more than two decimals. No timers: each wait is on a signal or polls with a deadline.
/// </summary>
public sealed class BudgetOverrunsGapTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_request_waiting_since_the_first_overrun_is_let_in_when_a_drain_a_second_overrun_joined_ends()
    {
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var overruns = new BudgetOverruns(_ => flushed.Task);
        var first = await overruns.AdmitAsync("key:a", CancellationToken.None);
        var second = await overruns.AdmitAsync("key:a", CancellationToken.None);

        first.Charged(0.001m, 0.001m, 0.002m, beyondMaxTokens: false); // the drain starts
        var waiting = overruns.AdmitAsync("key:a", CancellationToken.None).AsTask(); // waits on that drain
        second.Charged(0.001m, 0.001m, 0.003m, beyondMaxTokens: false); // joins it: the same drain, not a new one
        Assert.False(waiting.IsCompleted);
        first.Complete();
        second.Complete();
        flushed.SetResult();

        var admitted = await waiting.WaitAsync(Deadline); // released by the one drain's end
        admitted.Complete();
        Assert.Equal(0, overruns.TrackedScopes);
    }

    [Fact]
    public async Task A_key_whose_drain_ended_with_nobody_waiting_is_no_longer_tracked()
    {
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var overruns = new BudgetOverruns(_ => flushed.Task);
        var liar = await overruns.AdmitAsync("key:a", CancellationToken.None);
        liar.Charged(0.001m, 0.001m, 0.002m, beyondMaxTokens: false);

        liar.Complete();
        Assert.Equal(1, overruns.TrackedScopes); // draining until the flush ends
        flushed.SetResult();

        // The drain ends on the flush's continuation; no request follows that could remove the key instead.
        var deadline = DateTime.UtcNow + Deadline;
        while (overruns.TrackedScopes != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        Assert.Equal(0, overruns.TrackedScopes);
    }

    [Fact]
    public void At_factor_1_the_hold_is_the_worst_case_as_given()
    {
        var overruns = new BudgetOverruns(_ => Task.CompletedTask);

        Assert.Equal(1m, overruns.Factor);
        // 1.5 nano-dollars: not rounded up to 2 while no upstream has been distrusted.
        Assert.Equal(0.0000000015m, overruns.Scale(0.0000000015m));
    }

    [Fact]
    public void Overruns_are_counted_under_the_documented_instrument_names()
    {
        var model = "gap-test-" + Guid.NewGuid().ToString("N"); // other tests may report overruns meanwhile
        var seen = new ConcurrentQueue<(string Name, string? Description, double Value)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ModelMixMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Note(instrument, value, tags));
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Note(instrument, value, tags));
        listener.Start();

        BudgetOverrunMetrics.Report([new BudgetOverrunBooked(model, 0.25m), new BudgetOverrunBooked(model, 0.5m)]);
        BudgetOverrunMetrics.Report(null);

        const string UsdDescription = "Upstream overrun: cost of answers beyond what their key could be charged (cap + the request's hold), "
            + "charged to no key; exact amounts are the ledger's overrun_usd.";
        const string CountDescription = "Ledger rows carrying an upstream overrun charged to no key.";
        Assert.Equal(
            new (string, string?, double)[]
            {
                ("modelmix.budget.overrun_usd", UsdDescription, 0.25),
                ("modelmix.budget.overruns", CountDescription, 1),
                ("modelmix.budget.overrun_usd", UsdDescription, 0.5),
                ("modelmix.budget.overruns", CountDescription, 1),
            },
            seen.ToArray());

        void Note(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "model" && Equals(tag.Value, model))
                {
                    seen.Enqueue((instrument.Name, instrument.Description, value));
                }
            }
        }
    }

    [Theory]
    [InlineData("1.234567", "$1.23")] // from a dollar, cents only: not the six decimals of a smaller amount
    [InlineData("-1.999999", "$-2.00")] // rounded to the cent, either side of zero
    public void Amounts_from_a_dollar_print_in_cents_whatever_their_decimals(string usd, string expected)
    {
        Assert.Equal(expected, BudgetMoney.Format(decimal.Parse(usd, CultureInfo.InvariantCulture)));
    }
}
