using Microsoft.Extensions.Options;

namespace ModelMix.Server;

/// <summary>
/// <c>ModelMix:Budgets</c>: the periodic sweep that reclaims budget holds left by a process that died, and budget leases
/// (issue 29, docs/keys-and-budgets.md "Budget leases").
/// </summary>
internal sealed class BudgetSweepOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix:Budgets";

    /// <summary>
    /// How often the proxy reclaims expired budget holds (<see cref="Budgets.IBudgetStore.ReconcileExpiredAsync"/>),
    /// so money a crashed replica held is freed even when no request is refused (default 1 minute, 1 second to 1 day).
    /// </summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The slice of a key's remaining budget one process leases at a time, in USD; unset or 0 turns leases off (every
    /// budgeted request then reserves with a durable write of its own, as before). Default off.
    /// </summary>
    public decimal? LeaseSizeUsd { get; set; }

    /// <summary>
    /// The largest share of the room left under a cap (cap − spent − held) one slice may take (default 0.25): near the
    /// cap slices shrink, so money parked in other replicas' slices refuses less.
    /// </summary>
    public decimal LeaseShare { get; set; } = 0.25m;

    /// <summary>
    /// How long a lease lives in the store without being renewed (default 30 s; at most <c>ModelMix:ReservationTtl</c>
    /// is used). Live leases are renewed every third of it; a dead replica's slices come back after it (plus the sweep).
    /// </summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Whether leases are on.</summary>
    public bool LeasesEnabled => LeaseSizeUsd is > 0m;

    /// <summary>Checks the section at start-up so a bad value fails fast, naming its key.</summary>
    internal sealed class Validator : IValidateOptions<BudgetSweepOptions>
    {
        public ValidateOptionsResult Validate(string? name, BudgetSweepOptions options)
        {
            var failures = new List<string>();
            if (options.SweepInterval < TimeSpan.FromSeconds(1) || options.SweepInterval > TimeSpan.FromDays(1))
            {
                failures.Add($"{SectionName}:SweepInterval must be between 00:00:01 and 1.00:00:00, got {options.SweepInterval}.");
            }

            if (options.LeaseSizeUsd is { } size && (size < 0m || size > Budgets.BudgetMoney.MaxUsd))
            {
                failures.Add($"{SectionName}:LeaseSizeUsd must be 0 (leases off) or a positive amount in USD, got {size}.");
            }

            if (options.LeaseShare <= 0m || options.LeaseShare > 1m)
            {
                failures.Add($"{SectionName}:LeaseShare must be more than 0 and at most 1, got {options.LeaseShare}.");
            }

            if (options.LeaseTtl < TimeSpan.FromSeconds(1) || options.LeaseTtl > TimeSpan.FromHours(1))
            {
                failures.Add($"{SectionName}:LeaseTtl must be between 00:00:01 and 01:00:00, got {options.LeaseTtl}.");
            }

            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }
}
