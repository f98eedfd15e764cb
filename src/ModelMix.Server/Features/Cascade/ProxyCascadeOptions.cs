using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelMix.Hosting;
using ModelMix.Pipeline;
using ModelMix.Pricing;

namespace ModelMix.Server;

/// <summary>
/// <c>ModelMix:Cascade</c> at the proxy: the library's <see cref="CascadeOptions"/>, bound by the library's binder (so
/// every key means what it means to <c>AddModelMix</c>), plus the proxy's <c>Alias</c>. Registered with
/// <see cref="Add"/> and checked at start by <see cref="ProxyCascadeOptionsValidator"/>.
/// </summary>
internal sealed class ProxyCascadeOptions
{
    /// <summary>The model name clients send to use the cascade (<c>ModelMix:Cascade:Alias</c>, default <c>auto-cascade</c>).</summary>
    public string Alias { get; set; } = ProxyCascadeSettings.DefaultAlias;

    /// <summary>
    /// The cascade's options. At the proxy the confidence source defaults to (and must be) the verifier, whose model
    /// defaults to <c>haiku</c>: structured output would rewrite the client's request, which the proxy forwards byte for byte.
    /// </summary>
    public CascadeOptions Cascade { get; } = new()
    {
        ConfidenceSource = CascadeConfidenceSource.Verifier,
        VerifierModel = "haiku",
    };

    /// <summary>The names under <c>ModelMix:Aliases</c>, which the cascade's alias must not take.</summary>
    public IReadOnlyCollection<string> OtherAliases { get; set; } = [];

    /// <summary>Registers the options bound from <paramref name="configuration"/>, validated at start.</summary>
    public static void Add(IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ProxyCascadeOptions>()
            .Configure(options =>
            {
                var section = configuration.GetSection(ProxyCascadeSettings.SectionName);
                ModelMixSections.Bind(configuration, options.Cascade); // the library's binding of ModelMix:Cascade
                options.Alias = section[nameof(Alias)] is { } alias ? alias.Trim() : ProxyCascadeSettings.DefaultAlias;
            })
            .Configure<IOptions<Routing.RoutingAliasOptions>>((options, aliases) => options.OtherAliases = [.. aliases.Value.Aliases.Keys])
            .PostConfigure<PriceBook>((options, prices) => options.Cascade.PriceBook ??= prices)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<ProxyCascadeOptions>, ProxyCascadeOptionsValidator>();
    }
}

/// <summary>Checks <see cref="ProxyCascadeOptions"/> at start: the library's cascade checks, then the proxy's alias and confidence source.</summary>
internal sealed class ProxyCascadeOptionsValidator(PriceBook prices) : IValidateOptions<ProxyCascadeOptions>
{
    public ValidateOptionsResult Validate(string? name, ProxyCascadeOptions options)
    {
        const string section = ProxyCascadeSettings.SectionName;
        var errors = new List<string>();
        var alias = options.Alias;
        if (alias.Length == 0)
        {
            errors.Add($"{section}:Alias must not be empty.");
        }
        else if (prices.TryResolveId(alias, out _) || prices.Tiers.ContainsKey(alias))
        {
            errors.Add($"{section}:Alias '{alias}' is also a model or tier in the price book; pick another name.");
        }
        else if (alias is ProxyRouter.Auto or ProxyRouter.AutoCheap or ProxyRouter.AutoMeta
                 || options.OtherAliases.Any(other => string.Equals(other, alias, StringComparison.OrdinalIgnoreCase)))
        {
            errors.Add($"{section}:Alias '{alias}' is already another routing alias; pick another name.");
        }

        if (options.Cascade.ConfidenceSource != CascadeConfidenceSource.Verifier)
        {
            errors.Add($"{section}:ConfidenceSource must be Verifier at the proxy: structured output would rewrite the client's request, which the proxy forwards byte for byte.");
        }

        errors.AddRange(ModelMixOptionsChecks.Cascade(options.Cascade, prices)); // the library's check, keys named under ModelMix:Cascade as AddModelMix names them

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail("Invalid confidence cascade settings: " + string.Join(" ", errors));
    }
}
