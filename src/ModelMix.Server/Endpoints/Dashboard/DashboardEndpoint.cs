using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
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
/// once keys exist it needs an admin key (<see cref="AdminGate"/>).
/// </summary>
internal static class DashboardEndpoint
{
    /// <summary>Days shown when the query gives no <c>days</c>.</summary>
    public const int DefaultDays = 14;

    /// <summary>
    /// The window of a page view's per-session figures (runaway-session flags): the last day, from its hour on, summed from
    /// the writer's per-session hourly rows. Every other figure comes from the daily and hourly rollups (docs/ledger.md,
    /// "Rollups"), so a view costs the same at any ledger size.
    /// </summary>
    public static readonly TimeSpan SessionWindow = TimeSpan.FromDays(1);

    /// <summary>
    /// Each store's closed days as a view last computed them, kept with the day's version (<see cref="AuditDayCache"/>): a
    /// view reads the versions, today's rows and only the days that changed since; never stale (a change raises its day's
    /// version in its own transaction, and the view reads the versions first).
    /// </summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ILedgerStore, AuditDayCache> DayCaches = new();

    public static void Map(IEndpointRouteBuilder endpoints) => endpoints.MapGet("/dashboard", HandleAsync);

    private static async Task HandleAsync(HttpContext context)
    {
        var services = context.RequestServices;
        if (!await services.GetRequiredService<AdminGate>().AuthorizeAsync(context, "The dashboard"))
        {
            return;
        }

        var days = int.TryParse(context.Request.Query["days"], NumberStyles.None, CultureInfo.InvariantCulture, out var d) && d is >= 1 and <= 366 ? d : DefaultDays;
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var from = From(now, days);
        var ledger = services.GetRequiredService<ILedger>();
        var report = await AuditAsync(services, now, days, context.RequestAborted);
        var budgets = await BudgetsAsync(services.GetRequiredService<IKeyStore>(), services.GetRequiredService<IBudgetStore>(), now, context.RequestAborted);
        var rawNote = LedgerRawWindow.Note(await LedgerRawWindow.OldestRawRowAsync(ledger.Store, context.RequestAborted), report.FirstRecord); // retention
        var html = DashboardPage.Render(report, budgets, from, now, days, rawNote);
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        // No script, no fetch, no form, and never inside another page's frame (clickjacking): frame-ancestors for
        // browsers that read CSP, X-Frame-Options for those that do not.
        context.Response.Headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
        context.Response.Headers["X-Frame-Options"] = "DENY";
        context.Response.Headers["X-Content-Type-Options"] = "nosniff";
        context.Response.Headers["Referrer-Policy"] = "no-referrer";
        await context.Response.WriteAsync(html, context.RequestAborted);
    }

    /// <summary>The first day a view of <paramref name="days"/> days at <paramref name="now"/> shows (UTC midnight).</summary>
    private static DateTimeOffset From(DateTimeOffset now, int days) => new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero).AddDays(1 - days);

    /// <summary>The day cache of <paramref name="store"/>'s views (<see cref="DashboardWarmup"/> fills it at start).</summary>
    internal static AuditDayCache DayCacheOf(ILedgerStore store) => DayCaches.GetValue(store, static _ => new AuditDayCache());

    /// <summary>
    /// A view's audit at <paramref name="now"/> over <paramref name="days"/> days, after the ledger's buffered records are
    /// written, with the store's day cache: what a page view shows, and what <see cref="DashboardWarmup"/> runs once at start.
    /// </summary>
    internal static async Task<AuditReport> AuditAsync(IServiceProvider services, DateTimeOffset now, int days, CancellationToken cancellationToken)
    {
        var ledger = services.GetRequiredService<ILedger>();
        await ledger.FlushAsync(cancellationToken);
        return await AuditRunner.RunAsync(
            ledger.Store, services.GetRequiredService<PriceBook>(),
            new AuditOptions
            {
                From = From(now, days), To = now.AddTicks(1), RecentCount = 25, SessionWindow = SessionWindow, TaskLatency = false,
                DayCache = DayCacheOf(ledger.Store),
            }, null, cancellationToken);
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
}
