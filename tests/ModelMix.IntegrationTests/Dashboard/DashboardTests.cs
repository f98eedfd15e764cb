using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;
using ModelMix.Keys;
using ModelMix.Server.Dashboard;

namespace ModelMix.IntegrationTests.Dashboard;

public sealed class DashboardTests
{
    /// <summary>Where the browser test keeps its screenshot (see docs/dashboard.md).</summary>
    public static readonly string ScreenshotPath = Path.Combine(RepositoryPaths.Root, "tests", "ModelMix.IntegrationTests", "TestResults", "artifacts", "dashboard.png");

    private static Task<ProxyHarness> StartSeededAsync(string dir) => ProxyHarness.StartAsync(settings =>
    {
        var db = Path.Combine(dir, "dashboard.db");
        DashboardSeed.WriteAsync(db).GetAwaiter().GetResult();
        settings["ModelMix:Db"] = db;
        // The seeded ledger's figures (e.g. "All on Opus: 0.01 + 0.0075 + 0.02 = 0.0375" below) are worked out on the
        // 4.x tiers (Opus 4.6 $5/$25); on the default catalog the top tier is Claude Opus 5.5 ($4/$20).
        TestPrices.Use4xTiers(settings);
    });

    [Fact]
    public async Task Open_mode_serves_the_page_with_hostile_labels_encoded()
    {
        using var dir = new TempDirectory();
        await using var proxy = await StartSeededAsync(dir.Path);
        using var http = proxy.Http();

        var response = await http.GetAsync("dashboard");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(WebUtility.HtmlEncode(DashboardSeed.HostileTask), html, StringComparison.Ordinal);
        Assert.Contains("&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt; &amp; more", html, StringComparison.Ordinal);
        Assert.DoesNotContain(ProxyHarness.UpstreamKey, html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_closed_days_are_computed_at_start_so_the_first_view_reads_them_from_the_cache()
    {
        using var dir = new TempDirectory();
        await using var proxy = await StartSeededAsync(dir.Path);
        var warmup = proxy.Services.GetRequiredService<DashboardWarmup>();
        await warmup.Completion.WaitAsync(TimeSpan.FromSeconds(60)); // the warm-up's own task, not a sleep
        var cache = DashboardEndpoint.DayCacheOf(proxy.Ledger.Store);
        Assert.Equal(2, cache.Misses); // the seed's two closed days (two and one days ago), computed by the warm-up
        Assert.Equal(0, cache.Hits);

        using var http = proxy.Http();
        var response = await http.GetAsync("dashboard");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, cache.Hits); // the first view read both closed days from the cache
        Assert.Equal(2, cache.Misses); // and computed none
        Assert.Contains("$0.0275", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal); // 0.006 + 0.0015 + 0.02
    }

    [Fact]
    public async Task Unpriced_calls_are_counted_and_spend_is_split_by_model_and_effort()
    {
        using var dir = new TempDirectory();
        var db = Path.Combine(dir.Path, "effort.db");
        await using (var store = new global::ModelMix.Ledger.SqliteLedgerStore(db))
        {
            await store.MigrateAsync();
            var yesterday = DashboardSeed.Today.AddDays(-1);
            await store.WriteBatchAsync(
            [
                // Opus 4.6 ($5/$25 per MTok) at low effort, sent: 1,000 × 5/1M + 100 × 25/1M = 0.005 + 0.0025 = $0.0075.
                EffortRecord("e1", yesterday.AddHours(9), "claude-opus-4-6", "low", effortIsDefault: false, 1000, 100, new global::ModelMix.Pricing.CostBreakdown(0.005m, 0.0025m, 0m, 0m, 0m)),
                // Opus 4.6 at its default effort (high, not sent): 2,000 × 5/1M + 400 × 25/1M = 0.01 + 0.01 = $0.02.
                EffortRecord("e2", yesterday.AddHours(10), "claude-opus-4-6", "high", effortIsDefault: true, 2000, 400, new global::ModelMix.Pricing.CostBreakdown(0.01m, 0.01m, 0m, 0m, 0m)),
                // A model the price book does not know: tokens kept, no cost.
                EffortRecord("e3", yesterday.AddHours(11), "claude-unknown-9", null, effortIsDefault: false, 500, 50, null),
            ]);
        }

        await using var proxy = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:Db"] = db;
            TestPrices.Use4xTiers(settings);
        });
        using var http = proxy.Http();
        var html = await http.GetStringAsync("dashboard");

        Assert.Contains("1 unpriced calls", html, StringComparison.Ordinal);
        Assert.Contains("<h2>Spend by model and effort</h2>", html, StringComparison.Ordinal);
        Assert.Contains("<tr><td>claude-opus-4-6</td><td>low</td><td class=n>1</td><td class=n>1,000</td><td class=n>100</td><td class=n>$0.0075</td><td class=n>0%</td></tr>", html, StringComparison.Ordinal);
        Assert.Contains("<tr><td>claude-opus-4-6</td><td>high</td><td class=n>1</td><td class=n>2,000</td><td class=n>400</td><td class=n>$0.02</td><td class=n>100%</td></tr>", html, StringComparison.Ordinal);
    }

    private static global::ModelMix.Ledger.LedgerRecord EffortRecord(string id, DateTimeOffset at, string model, string? effort, bool effortIsDefault, long input, long output, global::ModelMix.Pricing.CostBreakdown? cost) => new()
    {
        Id = "effort-" + id,
        Timestamp = at,
        RequestId = "req-" + id,
        TaskLabel = "effort",
        KeyId = "key-effort",
        SessionId = "s-" + id,
        RequestedModel = model,
        RoutedModel = model,
        Policy = "passthrough",
        Reason = "the caller named a model",
        Usage = new global::ModelMix.Pricing.TokenUsage(input, output),
        Cost = cost,
        Effort = effort,
        EffortIsDefault = effortIsDefault,
        HttpStatus = 200,
        Status = cost is null ? global::ModelMix.Ledger.LedgerStatus.Unpriced : global::ModelMix.Ledger.LedgerStatus.Ok,
    };

    [Fact]
    public async Task Once_keys_exist_it_needs_an_admin_key()
    {
        using var dir = new TempDirectory();
        await using var proxy = await StartSeededAsync(dir.Path);
        await using var keys = new SqliteKeyStore(proxy.DbPath);
        var user = await keys.CreateAsync("team-a");
        var admin = await keys.CreateAsync("ops", isAdmin: true);
        using var http = proxy.Http();

        var anonymous = await http.GetAsync("dashboard");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("Basic", anonymous.Headers.WwwAuthenticate.Single().Scheme);

        using var asUser = new HttpRequestMessage(HttpMethod.Get, "dashboard") { Headers = { { "x-api-key", user.Key } } };
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(asUser)).StatusCode);

        using var badBasic = new HttpRequestMessage(HttpMethod.Get, "dashboard");
        badBasic.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:mmx-wrong")));
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(badBasic)).StatusCode);

        using var asAdmin = new HttpRequestMessage(HttpMethod.Get, "dashboard");
        asAdmin.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + admin.Key)));
        var page = await http.SendAsync(asAdmin);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        Assert.DoesNotContain(admin.Key, html, StringComparison.Ordinal);
        Assert.DoesNotContain(user.Key, html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chromium_renders_the_charts_with_the_ledger_numbers()
    {
        Assert.True(File.Exists("/usr/bin/chromium"), "Debian chromium is missing: apt-get install -y chromium (.ci/run installs it).");
        using var dir = new TempDirectory();
        await using var proxy = await StartSeededAsync(dir.Path);
        await using var keys = new SqliteKeyStore(proxy.DbPath);
        var admin = await keys.CreateAsync("ops", [ModelMix.Budgets.BudgetCap.Parse("1/day")], isAdmin: true);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox"],
            Timeout = 120_000,
        });
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1440, Height = 1100 },
            HttpCredentials = new HttpCredentials { Username = "admin", Password = admin.Key },
        });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(60_000);
        var response = await page.GotoAsync(proxy.ProxyUrl + "dashboard");
        Assert.Equal(200, response!.Status);

        // The day totals above the bars are the ledger's exact sums: $0.006 two days ago, $0.0015 + $0.02 yesterday.
        Assert.Equal(["$0.006", "$0.0215"], await page.Locator("#spend-chart text.bar-total").AllTextContentsAsync());
        Assert.Equal(DashboardSeed.Day(1), await page.Locator("#spend-chart text.bar-total").Nth(1).GetAttributeAsync("data-day"));
        var segments = page.Locator("#spend-chart rect.seg");
        Assert.Equal(3, await segments.CountAsync());
        foreach (var segment in await segments.AllAsync())
        {
            var box = await segment.BoundingBoxAsync();
            Assert.True(box is { Height: > 1, Width: > 1 }, "a bar segment did not render");
        }

        Assert.Equal("0.02", await page.Locator("#spend-chart rect.seg[data-model='claude-opus-4-6']").GetAttributeAsync("data-usd"));
        Assert.Equal("$0.0275", await page.Locator("#kpi-spend b").InnerTextAsync());
        // All on Opus: 0.01 + 0.0075 + 0.02 = 0.0375, so routing saved $0.01.
        Assert.Equal("$0.01", await page.Locator("#kpi-routing-saved b").InnerTextAsync());
        Assert.Equal("$0.01", await page.Locator("#savings-chart text.saving-label").First.TextContentAsync());
        Assert.Equal(3, await page.Locator("#mix-chart rect.tier").CountAsync());
        Assert.Contains("ops", await page.Locator("#budgets").InnerTextAsync(), StringComparison.Ordinal);
        // Hostile labels are text, never markup: the page ran no injected script.
        Assert.Contains(DashboardSeed.HostileTask, await page.Locator("#recent").InnerTextAsync(), StringComparison.Ordinal);
        Assert.True(await page.EvaluateAsync<bool>("() => window.__xss === undefined"));

        Directory.CreateDirectory(Path.GetDirectoryName(ScreenshotPath)!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = ScreenshotPath, FullPage = true });
        Assert.True(new FileInfo(ScreenshotPath).Length > 10_000);
    }
}
