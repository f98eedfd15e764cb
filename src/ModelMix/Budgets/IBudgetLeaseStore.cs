namespace ModelMix.Budgets;

/// <summary>
/// A budget store that can lease slices of a key's remaining budget to one process (issue 29, docs/keys-and-budgets.md
/// "Budget leases"), so requests reserve against the slice in memory (<see cref="BudgetLeases"/>) instead of writing a
/// reservation each. A lease is a reservation row (id <c>lse_…</c>, <see cref="BudgetLeaseIds"/>) holding its slice in
/// every counter it covers, so <c>spent + reserved ≤ cap</c> stays exact across processes: a slice is only granted
/// out of <c>cap − spent − reserved</c>, where <c>reserved</c> already counts every other lease and reservation.
/// Records journaled against a lease (their intent's reservation id) are charged to it in the ledger batch that stores
/// them; a lease past its expiry (its process died) is reclaimed by <see cref="IBudgetStore.ReconcileExpiredAsync"/>.
/// </summary>
public interface IBudgetLeaseStore
{
    /// <summary>
    /// Grows the lease <paramref name="leaseId"/> of <paramref name="instanceId"/> (created when it does not exist yet
    /// and <paramref name="create"/>) by a slice of the room left under every limit, and moves its expiry to
    /// <paramref name="expiresAt"/>. The slice is <c>min(max(want, min), max(min, ⌊room × share⌋))</c> (<see cref="BudgetLeases.Slice"/>), granted only when
    /// <c>room ≥ min</c> under every limit (room = <c>cap − spent − reserved</c>); <paramref name="minNanos"/> 0 renews
    /// the expiry even when nothing is granted.
    /// </summary>
    /// <returns>The nano-dollars granted (≥ 0), or null when refused (no room for <paramref name="minNanos"/>) or the lease was already closed (reclaimed).</returns>
    Task<long?> GrowLeaseAsync(string leaseId, bool create, string instanceId, IReadOnlyList<BudgetLimit> limits, long minNanos, long wantNanos, decimal share, DateTimeOffset at, DateTimeOffset expiresAt, CancellationToken cancellationToken = default);

    /// <summary>
    /// Gives back up to <paramref name="nanos"/> of the lease's slice (never what its records were charged) and moves its
    /// expiry to <paramref name="expiresAt"/>.
    /// </summary>
    /// <returns>
    /// What the records charged to the lease so far cost (nano-dollars): the owner closes a lease only once that covers
    /// what its requests cost, so no hold of a record not yet committed is released; null when the lease was closed
    /// already (reclaimed by a sweep): it must not be used any more.
    /// </returns>
    Task<long?> ShrinkLeaseAsync(string leaseId, long nanos, DateTimeOffset expiresAt, CancellationToken cancellationToken = default);

    /// <summary>
    /// Closes leases: each releases its slice and charges its counters what its records cost. Records committed later
    /// are charged to the counters directly, up to the room under the cap: close a lease only once its requests' records
    /// are all charged to it (unlike a lease a sweep reclaims, a closed lease keeps no slice held for late records).
    /// </summary>
    Task CloseLeasesAsync(IReadOnlyList<string> leaseIds, DateTimeOffset at, CancellationToken cancellationToken = default);
}

/// <summary>How lease ids are told from per-request reservation ids.</summary>
internal static class BudgetLeaseIds
{
    /// <summary>The prefix of every lease id.</summary>
    public const string Prefix = "lse_";

    /// <summary>Whether <paramref name="reservationId"/> is a lease.</summary>
    public static bool IsLease(string? reservationId) => reservationId is not null && reservationId.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>Set once this process has taken a lease: the ledger batch looks for leased records only then.</summary>
    internal static bool InUse;
}
