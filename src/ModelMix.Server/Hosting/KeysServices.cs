using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelMix.Budgets;
using ModelMix.Keys;
using ModelMix.Stores;

namespace ModelMix.Server;

/// <summary>Registers virtual keys, budgets and shared cooldowns: the stores on the ledger's store (SQLite file or PostgreSQL), the gates the forwarder calls, and the start-up check.</summary>
internal static class KeysServices
{
    public static IServiceCollection AddKeysAndBudgets(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<ProxyOptions>, BudgetOptionsValidator>();
        services.AddSingleton(provider => StoreLocation.Parse(provider.GetRequiredService<IOptions<ProxyOptions>>().Value.StoreSetting));
        services.AddOptions<AuthCacheOptions>().BindConfiguration(AuthCacheOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AuthCacheOptions>, AuthCacheOptions.Validator>();
        services.AddSingleton<IKeyStore>(provider => new CachedKeyStore( // keys verified in memory; changes honoured within RecheckInterval (AuthCacheOptions.cs)
            provider.GetRequiredService<StoreLocation>().CreateKeyStore(provider.GetRequiredService<TimeProvider>()),
            provider.GetRequiredService<IOptions<AuthCacheOptions>>().Value.RecheckInterval,
            provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton(provider => provider.GetRequiredService<StoreLocation>().CreateBudgetStore());
        services.AddSingleton(provider => provider.GetRequiredService<StoreLocation>().CreateCooldownStore(provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton<ProxyCooldowns>();
        services.AddSingleton<AuthBinding>();
        services.AddSingleton<AuthGate>();
        services.AddSingleton<BudgetGate>();
        services.AddSingleton(provider => // answers dearer than their hold: drain the key, distrust a lying upstream (docs/keys-and-budgets.md, "Overshoot")
        {
            var ledger = provider.GetRequiredService<ModelMix.Ledger.ILedger>();
            var logger = provider.GetRequiredService<Microsoft.Extensions.Logging.ILogger<BudgetGate>>();
            return new BudgetOverruns(ledger.FlushAsync, overrun => AuthLog.Overrun(
                logger,
                overrun.Scope,
                overrun.HeldUsd,
                overrun.ChargedUsd,
                overrun.BeyondMaxTokens ? " with more output than its max_tokens (an upstream fault: the API never returns more)" : string.Empty,
                overrun.Factor));
        });
        services.AddHostedService<AuthStartup>();
        services.AddHostedService<StoreCapacityStartup>(); // warns when Replicas × Maximum Pool Size exceeds what PostgreSQL allows
        services.AddOptions<BudgetSweepOptions>().BindConfiguration(BudgetSweepOptions.SectionName).ValidateOnStart(); // the periodic hold sweep (BudgetSweepService.cs)
        services.AddSingleton<IValidateOptions<BudgetSweepOptions>, BudgetSweepOptions.Validator>();
        services.AddSingleton<BudgetSweepService>();
        services.AddHostedService(provider => provider.GetRequiredService<BudgetSweepService>());
        BudgetLeaseService.AddServices(services); // budget leases (issue 29), when ModelMix:Budgets:LeaseSizeUsd is set
        return services;
    }
}
