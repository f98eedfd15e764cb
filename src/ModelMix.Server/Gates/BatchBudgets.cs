using System.Text.Json;
using Microsoft.AspNetCore.Http;
using ModelMix.Batching;
using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Server;

/// <summary>
/// Budgets for batch jobs: when a job is queued, its key's (and session's) budgets hold the job's worst case — every
/// request's <see cref="BudgetEstimator"/> bound at the batch rate — for <see cref="HoldTtl"/>, or the job is refused
/// with the same 429 as <c>/v1/messages</c>. When the job has ended the reservation settles to what the ledger
/// recorded for it (its records carry the job id as request id), so a crash before settling is reconciled to the
/// same amount once the hold expires.
/// </summary>
internal sealed class BatchBudgets(BudgetGate gate, IBudgetStore store, AttemptRecorder recorder)
{
    /// <summary>How long a job's reservation holds: the API's 24 h processing window, plus time queued and collecting.</summary>
    public static readonly TimeSpan HoldTtl = TimeSpan.FromHours(48);

    /// <summary>One request's worst case at the batch rate (tokens discounted, server-tool fees not).</summary>
    public static decimal WorstCaseUsd(PriceBook prices, BatchItemInput item, long maxTokens, DateTimeOffset at) =>
        BudgetEstimator.WorstCaseUsd(prices, item.RoutedModel, item.Params, maxTokens, at, batch: true);

    /// <summary>
    /// Reserves the job's worst case under <paramref name="jobId"/>. Returns false after writing a 429 (or 400);
    /// otherwise the reservation to store with the job (null when no budget applies).
    /// </summary>
    public async ValueTask<(bool Allowed, string? Reservation)> ReserveAsync(HttpContext context, AuthCaller caller, string jobId, IReadOnlyList<BatchItemInput> items, IReadOnlyList<long> maxTokens, string? sessionId)
    {
        var hold = await gate.ReserveAsync(
            context,
            caller,
            items[0].RoutedModel,
            (prices, at) =>
            {
                var total = 0m;
                for (var i = 0; i < items.Count; i++)
                {
                    total += WorstCaseUsd(prices, items[i], maxTokens[i], at);
                }

                return total;
            },
            sessionId,
            jobId,
            AnthropicDialect.Instance,
            HoldTtl);
        if (hold is null)
        {
            return (false, null);
        }

        return (true, hold.Reservation is { } reservation ? JsonSerializer.Serialize(reservation) : null);
    }

    /// <summary>Releases a reservation made for a job that was not created (an idempotent replay returned an older job).</summary>
    public Task ReleaseAsync(string? reservation) =>
        reservation is null ? Task.CompletedTask : store.SettleAsync(Parse(reservation), 0m, CancellationToken.None);

    /// <summary>Settles an ended job's reservation to the cost the ledger recorded for it. Idempotent.</summary>
    public async Task SettleAsync(BatchJob job, CancellationToken cancellationToken)
    {
        if (job.BudgetReservation is not { } json)
        {
            return;
        }

        var reservation = Parse(json);
        var totals = await recorder.Ledger.GetTotalsAsync(new LedgerQuery { RequestId = job.Id }, cancellationToken);
        // A result that used tokens but could not be priced charges the whole hold, erring on the budget's side.
        var actual = totals.UnpricedCount > 0 ? reservation.AmountUsd : totals.Cost.Total;
        await store.SettleAsync(reservation, actual, cancellationToken);
    }

    private static BudgetReservation Parse(string json) =>
        JsonSerializer.Deserialize<BudgetReservation>(json) ?? throw new JsonException("A batch job's budget reservation is empty.");
}
