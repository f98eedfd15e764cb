using Microsoft.Extensions.Options;
using ModelMix.Keys;

namespace ModelMix.Server;

/// <summary><c>ModelMix:Keys</c>: the in-memory cache of virtual keys (<see cref="CachedKeyStore"/>).</summary>
internal sealed class AuthCacheOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix:Keys";

    /// <summary>The longest <see cref="RecheckInterval"/> accepted.</summary>
    public static readonly TimeSpan MaxRecheckInterval = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The bound on how long a key change made anywhere (a revocation, caps, a new key, the admin flag; by any replica,
    /// <c>modelmix keys</c> or SQL) takes to be honoured by this proxy: the cache asks the store whether any key changed
    /// at most this often (default 1 second, 0 to 5 minutes; 0 turns the cache off: a store read per request).
    /// </summary>
    public TimeSpan RecheckInterval { get; set; } = CachedKeyStore.DefaultRecheckInterval;

    /// <summary>Checks the section at start-up so a bad value fails fast, naming its key.</summary>
    internal sealed class Validator : IValidateOptions<AuthCacheOptions>
    {
        public ValidateOptionsResult Validate(string? name, AuthCacheOptions options) =>
            options.RecheckInterval < TimeSpan.Zero || options.RecheckInterval > MaxRecheckInterval
                ? ValidateOptionsResult.Fail($"{SectionName}:RecheckInterval must be between 00:00:00 and 00:05:00, got {options.RecheckInterval}.")
                : ValidateOptionsResult.Success;
    }
}
