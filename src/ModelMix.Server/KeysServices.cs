using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelMix.Budgets;
using ModelMix.Keys;

namespace ModelMix.Server;

/// <summary>Registers virtual keys and budgets: the stores on the ledger's file, the gates the forwarder calls, and the start-up check.</summary>
internal static class KeysServices
{
    public static IServiceCollection AddKeysAndBudgets(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<ProxyOptions>, BudgetOptionsValidator>();
        services.AddSingleton(provider => new SqliteKeyStore(provider.GetRequiredService<IOptions<ProxyOptions>>().Value.Db, provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IBudgetStore>(provider => new SqliteBudgetStore(provider.GetRequiredService<IOptions<ProxyOptions>>().Value.Db));
        services.AddSingleton<AuthBinding>();
        services.AddSingleton<AuthGate>();
        services.AddSingleton<BudgetGate>();
        services.AddHostedService<AuthStartup>();
        return services;
    }
}
