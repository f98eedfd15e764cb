using Microsoft.Extensions.Options;

namespace ModelMix.Server;

/// <summary><c>ModelMix:Budgets</c>: the periodic sweep that reclaims budget holds left by a process that died.</summary>
internal sealed class BudgetSweepOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix:Budgets";

    /// <summary>
    /// How often the proxy reclaims expired budget holds (<see cref="Budgets.IBudgetStore.ReconcileExpiredAsync"/>),
    /// so money a crashed replica held is freed even when no request is refused (default 1 minute, 1 second to 1 day).
    /// </summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Checks the section at start-up so a bad value fails fast, naming its key.</summary>
    internal sealed class Validator : IValidateOptions<BudgetSweepOptions>
    {
        public ValidateOptionsResult Validate(string? name, BudgetSweepOptions options) =>
            options.SweepInterval < TimeSpan.FromSeconds(1) || options.SweepInterval > TimeSpan.FromDays(1)
                ? ValidateOptionsResult.Fail($"{SectionName}:SweepInterval must be between 00:00:01 and 1.00:00:00, got {options.SweepInterval}.")
                : ValidateOptionsResult.Success;
    }
}
