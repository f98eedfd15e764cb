using System.Diagnostics.Metrics;
using ModelMix.Telemetry;

namespace ModelMix.Budgets;

/// <summary>An upstream overrun booked to no key (<see cref="BudgetOverrunRule"/>): the attempt's routed model and the amount.</summary>
/// <param name="Model">The routed model of the ledger row the overrun is recorded on (a catalog id: bounded label).</param>
/// <param name="OverrunUsd">The amount charged to no key.</param>
internal readonly record struct BudgetOverrunBooked(string Model, decimal OverrunUsd);

/// <summary>
/// The <c>/metrics</c> side of upstream overruns (meter <see cref="ModelMixMetrics.MeterName"/>):
/// <c>modelmix.budget.overrun_usd</c> (USD charged to no key) and <c>modelmix.budget.overruns</c> (ledger rows that
/// carry one), labelled by model only. Reported by the ledger stores after the transaction that booked them commits.
/// </summary>
internal static class BudgetOverrunMetrics
{
    private static readonly Meter s_meter = new(ModelMixMetrics.MeterName);
    private static readonly Counter<double> s_usd = s_meter.CreateCounter<double>("modelmix.budget.overrun_usd", null, "Upstream overrun: cost of answers beyond what their key could be charged (cap + the request's hold), charged to no key; exact amounts are the ledger's overrun_usd.");
    private static readonly Counter<long> s_count = s_meter.CreateCounter<long>("modelmix.budget.overruns", null, "Ledger rows carrying an upstream overrun charged to no key.");

    /// <summary>Counts <paramref name="booked"/> (committed).</summary>
    public static void Report(IEnumerable<BudgetOverrunBooked>? booked)
    {
        if (booked is null)
        {
            return;
        }

        foreach (var item in booked)
        {
            var tag = new KeyValuePair<string, object?>("model", item.Model);
            s_usd.Add((double)item.OverrunUsd, tag);
            s_count.Add(1, tag);
        }
    }
}
