namespace ModelMix.Budgets;

/// <summary>
/// Holds budget counters and reservations. Implementations make <see cref="ReserveAsync"/> atomic: among any number
/// of concurrent reservations, the sum of settled and reserved money in a period never exceeds a cap.
/// </summary>
public interface IBudgetStore : IAsyncDisposable
{
    /// <summary>Creates or upgrades the store's tables.</summary>
    Task MigrateAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Holds <paramref name="amountUsd"/> under every limit at once, or under none: refused when any limit's
    /// <c>spent + reserved + amount</c> would exceed its cap in the period containing <paramref name="at"/>.
    /// </summary>
    /// <param name="requestId">
    /// The request the money is for (kept to reconcile a crash against the ledger). One hold per request id: a hold settled
    /// in a ledger batch or reclaimed by the sweep is charged everything the ledger recorded under its request id, so two
    /// holds under one id would each be charged the request's whole recorded cost (the proxy and the shadow runner take
    /// one per id).
    /// </param>
    /// <param name="limits">The caps that apply.</param>
    /// <param name="amountUsd">The worst-case cost of the request.</param>
    /// <param name="at">Now (selects the day and month periods).</param>
    /// <param name="ttl">How long before an unsettled reservation may be reclaimed.</param>
    /// <param name="cancellationToken">Cancels the wait for the store.</param>
    Task<BudgetReserveResult> ReserveAsync(string requestId, IReadOnlyList<BudgetLimit> limits, decimal amountUsd, DateTimeOffset at, TimeSpan ttl, CancellationToken cancellationToken = default);

    /// <summary>
    /// Releases the reservation and charges <paramref name="actualUsd"/> (the recorded cost of every attempt; zero
    /// releases it) to the periods it was reserved in. Settling a reservation already reclaimed charges only what
    /// the reclaim did not.
    /// </summary>
    Task SettleAsync(BudgetReservation reservation, decimal actualUsd, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reclaims reservations past their expiry (left by a process that died): each is settled to the cost its
    /// request recorded in the ledger of the same database, or released when it recorded none — under
    /// <see cref="BudgetOverrunRule"/> like a live settlement (what is beyond the cap plus its hold is booked as the
    /// request's overrun). A budget lease past its expiry is charged what its records cost and its unspent slice stays
    /// held for one more lease life (for records still to come); a later call releases it once that has passed.
    /// </summary>
    /// <returns>How many holds were reclaimed or released.</returns>
    Task<int> ReconcileExpiredAsync(DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>The spend counted for <paramref name="scope"/> in the period of <paramref name="window"/> containing <paramref name="at"/>.</summary>
    Task<BudgetUsage> GetUsageAsync(string scope, BudgetWindow window, DateTimeOffset at, CancellationToken cancellationToken = default);
}
