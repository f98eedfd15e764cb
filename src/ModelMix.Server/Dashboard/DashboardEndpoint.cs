using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Audit;
using ModelMix.Budgets;
using ModelMix.Keys;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Server.Dashboard;

/// <summary>
/// <c>GET /dashboard</c>: one server-rendered page (HTML and SVG drawn here, no script, nothing fetched from
/// elsewhere) over the last days of the ledger. Open like the rest of the proxy in loopback open mode (no keys);
/// once keys exist it needs an admin key, sent as <c>x-api-key</c>, a bearer token, or the password of HTTP Basic
/// authentication (what a browser prompts for).
/// </summary>
internal static class DashboardEndpoint
{
    /// <summary>Days shown when the query gives no <c>days</c>.</summary>
    public const int DefaultDays = 14;

    public static void Map(WebApplication app) => app.MapGet("/dashboard", HandleAsync);

    private static async Task HandleAsync(HttpContext context)
    {
        var services = context.RequestServices;
        if (!await AuthorizeAsync(context, services.GetRequiredService<IKeyStore>(), services.GetRequiredService<AuthBinding>()))
        {
            return;
        }

        var days = int.TryParse(context.Request.Query["days"], NumberStyles.None, CultureInfo.InvariantCulture, out var d) && d is >= 1 and <= 366 ? d : DefaultDays;
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var from = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero).AddDays(1 - days);
        var ledger = services.GetRequiredService<ILedger>();
        await ledger.FlushAsync(context.RequestAborted);
        var report = await AuditRunner.RunAsync(
            ledger.Store, services.GetRequiredService<PriceBook>(),
            new AuditOptions { From = from, To = now.AddTicks(1), RecentCount = 25 }, null, context.RequestAborted);
        var budgets = await BudgetsAsync(services.GetRequiredService<IKeyStore>(), services.GetRequiredService<IBudgetStore>(), now, context.RequestAborted);
        var html = DashboardPage.Render(report, budgets, from, now, days);
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
        context.Response.Headers["X-Content-Type-Options"] = "nosniff";
        await context.Response.WriteAsync(html, context.RequestAborted);
    }

    private static async Task<IReadOnlyList<DashboardBudget>> BudgetsAsync(IKeyStore keys, IBudgetStore budgets, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = new List<DashboardBudget>();
        foreach (var key in await keys.ListAsync(includeRevoked: false, cancellationToken))
        {
            foreach (var cap in key.Budgets)
            {
                var usage = await budgets.GetUsageAsync(key.BudgetScope, cap.Window, now, cancellationToken);
                rows.Add(new DashboardBudget(key.Name, key.Id, BudgetPeriods.ToCode(cap.Window), cap.AmountUsd, usage.SpentUsd, usage.ReservedUsd));
            }
        }

        return rows;
    }

    /// <summary>True when the page may be served; otherwise a 401 (no or bad key) or 403 (not an admin key) is written.</summary>
    private static async Task<bool> AuthorizeAsync(HttpContext context, IKeyStore keys, AuthBinding binding)
    {
        var presented = Presented(context.Request.Headers);
        if (presented is not null && await keys.AuthenticateAsync(presented, context.RequestAborted) is { } key)
        {
            if (key.IsAdmin)
            {
                return true;
            }

            await WriteAsync(context, 403, "This key is not an admin key. Create one with `modelmix keys create --name NAME --admin`.");
            return false;
        }

        if (presented is null && binding.LoopbackOnly && !await keys.HasActiveKeysAsync(context.RequestAborted))
        {
            return true;
        }

        context.Response.Headers.WWWAuthenticate = "Basic realm=\"ModelMix dashboard\", charset=\"UTF-8\"";
        await WriteAsync(context, 401, "The dashboard needs an admin key: send it as x-api-key, as a bearer token, or as the password when the browser asks.");
        return false;
    }

    private static async Task WriteAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(message, context.RequestAborted);
    }

    private static string? Presented(IHeaderDictionary headers)
    {
        if (headers["x-api-key"].ToString() is { Length: > 0 } apiKey)
        {
            return apiKey;
        }

        var authorization = headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization[7..].Trim() is { Length: > 0 } token)
        {
            return token;
        }

        if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
                var colon = decoded.IndexOf(':', StringComparison.Ordinal);
                return colon >= 0 && decoded.Length > colon + 1 ? decoded[(colon + 1)..] : null;
            }
            catch (FormatException)
            {
                return string.Empty; // a malformed header is a bad key, never open mode
            }
        }

        return null;
    }
}
