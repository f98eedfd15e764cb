using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelMix.Budgets;
using ModelMix.Keys;

namespace ModelMix.Server;

/// <summary>
/// At start: migrates the key and budget tables, reclaims budget reservations a crashed process left behind, and
/// refuses to start when the proxy would listen beyond loopback with no virtual keys (anyone who can reach it could
/// spend the upstream key).
/// </summary>
internal sealed class AuthStartup(IKeyStore keys, IBudgetStore budgets, AuthBinding binding, TimeProvider time, ILogger<AuthStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await keys.MigrateAsync(cancellationToken);
        await budgets.MigrateAsync(cancellationToken);
        var reclaimed = await budgets.ReconcileExpiredAsync(time.GetUtcNow(), cancellationToken);
        if (reclaimed > 0)
        {
            AuthLog.Reconciled(logger, reclaimed);
        }

        var active = (await keys.ListAsync(includeRevoked: false, cancellationToken)).Count;
        if (active > 0)
        {
            AuthLog.KeysRequired(logger, active);
            return;
        }

        if (!binding.LoopbackOnly)
        {
            throw new InvalidOperationException(
                $"ModelMix refuses to start: it would listen on {string.Join(", ", binding.Urls.Where(url => !AuthBinding.IsLoopback(url)))}, beyond loopback, " +
                $"with no virtual API keys in '{keys.Location}', so anyone who can reach it could spend the upstream key. " +
                "Create a key first (modelmix keys create --name NAME --db PATH), or listen on loopback only (--urls http://127.0.0.1:8080).");
        }

        AuthLog.OpenOnLoopback(logger, string.Join(", ", binding.Urls));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
