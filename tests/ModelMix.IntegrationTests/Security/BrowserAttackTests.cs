using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using ModelMix.IntegrationTests.Proxy;

namespace ModelMix.IntegrationTests.Security;

/// <summary>
/// A real browser (Debian's Chromium through Playwright, as in the dashboard test) on a page served from another
/// loopback origin, doing what a hostile page in the developer's browser can do against a keyless proxy on loopback:
/// <c>no-cors</c> fetches, a CORS fetch, a form POST whose text/plain body is JSON, a beacon, framing the dashboard,
/// and DNS rebinding (a name mapped to 127.0.0.1, so the page's requests to the proxy are same-origin). None may reach
/// FakeAnthropic. A page on an origin in <c>ModelMix:AllowedOrigins</c> does reach it, CORS preflight included, which
/// shows the page's requests are real.
/// </summary>
public sealed class BrowserAttackTests
{
    /// <summary>The name the browser resolves to 127.0.0.1, as a rebinding attacker's DNS would.</summary>
    private const string RebindHost = "rebind.test";

    private const string AttackScript = """
        async (proxy) => {
          const body = JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'from a web page' }] });
          const out = {};
          // The issue's reproduction: a no-cors POST of a text/plain body that is JSON.
          await fetch(proxy + 'v1/messages', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body });
          await fetch(proxy + 'v1/messages?beta=true', { method: 'POST', mode: 'no-cors', body });
          await fetch(proxy + 'v1/chat/completions', { method: 'POST', mode: 'no-cors', body });
          await fetch(proxy + 'v1/messages/count_tokens', { method: 'POST', mode: 'no-cors', body });
          await fetch(proxy + 'v1/modelmix/batch', { method: 'POST', mode: 'no-cors', body: JSON.stringify({ requests: [{ custom_id: 'a', params: JSON.parse(body) }] }) });
          // A CORS fetch with a JSON body: the browser asks first (preflight).
          try { const r = await fetch(proxy + 'v1/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body }); out.cors = r.status; }
          catch (e) { out.cors = 'blocked'; }
          // A form POST: enctype text/plain writes name=value, so the body below is {...,"pad":"="}, valid JSON.
          const sink = document.createElement('iframe');
          sink.name = 'sink';
          document.body.appendChild(sink);
          const form = document.createElement('form');
          form.method = 'POST';
          form.action = proxy + 'v1/messages';
          form.enctype = 'text/plain';
          form.target = 'sink';
          const input = document.createElement('input');
          input.name = body.slice(0, -1) + ',"pad":"';
          input.value = '"}';
          form.appendChild(input);
          document.body.appendChild(form);
          form.submit();
          // A beacon: a text/plain POST the browser sends even as the page closes.
          out.beacon = navigator.sendBeacon(proxy + 'v1/messages', body);
          return out;
        }
        """;

    /// <summary>Requests the script makes: five no-cors fetches, the CORS fetch's preflight, the form POST, the beacon.</summary>
    private const int AttackRequests = 8;

    [Fact]
    public async Task A_page_on_another_local_origin_cannot_reach_the_upstream_through_the_keyless_proxy()
    {
        Assert.True(File.Exists("/usr/bin/chromium"), "Debian chromium is missing: apt-get install -y chromium (.ci/run installs it).");
        await using var pages = await PageServer.StartAsync();
        await using var proxy = await ProxyHarness.StartAsync();
        await using var allowing = await ProxyHarness.StartAsync(settings => settings["ModelMix:AllowedOrigins:0"] = pages.Origin);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        page.SetDefaultTimeout(60_000);
        using var refusals = new RefusalCounter(proxy);

        Assert.Equal(200, (await page.GotoAsync(pages.Origin + "/"))!.Status);
        var result = await page.EvaluateAsync<Dictionary<string, object>>(AttackScript, proxy.ProxyUrl.ToString());
        Assert.Equal("blocked", result["cors"].ToString()); // the preflight is refused: the POST itself is never sent
        Assert.Equal("True", result["beacon"].ToString());

        // Every request the page made was answered (refused, or — without the guard — forwarded): then none reached the upstream.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (refusals.Total + proxy.Fake.Requests.Count < AttackRequests && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Empty(proxy.Fake.Requests);
        Assert.Equal(AttackRequests, refusals.Of("403 permission_error")); // each refused for its Origin

        // The dashboard cannot be framed by the page: Chromium shows its error page instead.
        await page.SetContentAsync($"<iframe id=dash src=\"{proxy.ProxyUrl}dashboard\"></iframe>");
        var frame = page.Frames.Single(f => f != page.MainFrame);
        await frame.WaitForLoadStateAsync();
        Assert.StartsWith("chrome-error://", frame.Url, StringComparison.Ordinal);

        // DNS rebinding: the attacker's name now points at 127.0.0.1, so its page and the proxy share an origin.
        var rebound = $"http://{RebindHost}:{proxy.ProxyUrl.Port}/";
        var dashboard = await page.GotoAsync(rebound + "dashboard");
        Assert.Equal(403, dashboard!.Status);
        Assert.Contains("DNS rebinding", await dashboard.TextAsync(), StringComparison.Ordinal);
        var sameOrigin = await page.EvaluateAsync<int>("""
            async () => (await fetch('/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'rebound' }] }) })).status
            """);
        Assert.Equal(403, sameOrigin);
        Assert.Empty(proxy.Fake.Requests);

        // The control: on an allowed origin the same browser gets through, preflight and all, as an SDK with
        // dangerouslyAllowBrowser would, and can read the request id.
        await page.GotoAsync(pages.Origin + "/");
        var allowed = await page.EvaluateAsync<Dictionary<string, object>>("""
            async (proxy) => {
              const r = await fetch(proxy + 'v1/messages', { method: 'POST',
                headers: { 'content-type': 'application/json', 'x-api-key': 'any', 'anthropic-version': '2023-06-01', 'anthropic-dangerous-direct-browser-access': 'true' },
                body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'allowed' }] }) });
              return { status: r.status, id: r.headers.get('x-modelmix-request-id') ?? '' };
            }
            """, allowing.ProxyUrl.ToString());
        Assert.Equal("200", allowed["status"].ToString());
        Assert.StartsWith("mmx_", allowed["id"].ToString(), StringComparison.Ordinal);
        Assert.Equal(1, allowing.Fake.MessageCount);
    }

    private static Task<IBrowser> LaunchAsync(IPlaywright playwright) => playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = "/usr/bin/chromium",
        Headless = true,
        Args = ["--no-sandbox", $"--host-resolver-rules=MAP {RebindHost} 127.0.0.1"],
        Timeout = 120_000,
    });

    /// <summary>A second local web server: the attacker's page, on its own loopback port (so its own origin).</summary>
    private sealed class PageServer : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private PageServer(WebApplication app, string origin)
        {
            _app = app;
            Origin = origin;
        }

        public string Origin { get; }

        public static async Task<PageServer> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            app.MapGet("/", () => Results.Content("<!doctype html><html><head><title>a web page</title></head><body><p>nothing to see</p></body></html>", "text/html"));
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new PageServer(app, address.TrimEnd('/'));
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
