using Microsoft.Extensions.Options;
using ModelMix.Caching;
using ModelMix.Hosting;

namespace ModelMix.Postgres;

/// <summary>
/// Checks <see cref="PostgresPromptCacheWarmStoreOptions"/> (and the <see cref="PromptCacheWarmStoreOptions"/> every warm
/// store takes): a TTL not negative, intervals and timeouts positive (the store checks the options it is given).
/// </summary>
internal sealed class PostgresPromptCacheWarmStoreOptionsValidator : IValidateOptions<PostgresPromptCacheWarmStoreOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, PostgresPromptCacheWarmStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = OptionsCheck<PostgresPromptCacheWarmStoreOptions>.Throwing(nameof(PostgresPromptCacheWarmStoreOptions), () => ThrowIfInvalid(options)).ToList();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    /// <summary>Throws when an option is out of range, naming it: for options built in code (the stage or core's constructor).</summary>
#pragma warning disable CA2208 // the exception names the option, not the parameter, as it did when this was the options' Validate()
    internal static void ThrowIfInvalid(PromptCacheWarmStoreOptions options)
    {
        if (options.LocalCacheTtl < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(PromptCacheWarmStoreOptions.LocalCacheTtl), options.LocalCacheTtl, "The local cache TTL must not be negative.");
        }

        if (options is PostgresPromptCacheWarmStoreOptions { PruneInterval: var prune } && prune <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(PostgresPromptCacheWarmStoreOptions.PruneInterval), prune, "The prune interval must be positive.");
        }

        if (options.ReadTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(PromptCacheWarmStoreOptions.ReadTimeout), options.ReadTimeout, "The read timeout must be positive.");
        }

        if (options.RetryAfterFailure < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(PromptCacheWarmStoreOptions.RetryAfterFailure), options.RetryAfterFailure, "The retry delay must not be negative.");
        }
    }
#pragma warning restore CA2208
}
