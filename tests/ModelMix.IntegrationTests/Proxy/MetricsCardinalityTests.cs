using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using ModelMix.Keys;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// Issue 20 §6: model ids are accepted in any casing, and every place the proxy records one (upstream body, ledger,
/// <c>x-modelmix-routed-model</c>, metrics) uses one spelling per model; made-up model names take a bounded number of
/// metric labels; <c>/metrics</c> needs an admin key once keys exist (unless configured open).
/// </summary>
public sealed class MetricsCardinalityTests
{
    [Fact]
    public async Task A_model_sent_in_any_casing_is_one_name_upstream_in_the_ledger_the_header_and_the_metrics()
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var http = harness.Http();
        var casings = new[] { "claude-haiku-4-5", "CLAUDE-HAIKU-4-5", "Claude-Haiku-4-5", "cLaUdE-hAiKu-4-5", "claude-HAIKU-4-5" };

        foreach (var model in casings)
        {
            using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json($$"""{"model":"{{model}}","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"""));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("claude-haiku-4-5", response.Headers.GetValues("x-modelmix-routed-model").Single());
            using var chat = await http.PostAsync("v1/chat/completions", ProxyValidationTests.Json($$"""{"model":"{{model}}","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"""));
            Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        }

        using var alias = await http.PostAsync("v1/messages", ProxyValidationTests.Json("""{"model":"AUTO-Cheap","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"""));
        Assert.Equal(HttpStatusCode.OK, alias.StatusCode);

        Assert.All(harness.Fake.MessageRequests, request => Assert.Equal(request.Json!["model"]!.GetValue<string>().ToLowerInvariant(), request.Json!["model"]!.GetValue<string>()));
        Assert.Equal(10, harness.Fake.MessageRequests.Count(request => request.Json!["model"]!.GetValue<string>() == "claude-haiku-4-5"));
        var records = await harness.ReadLedgerAsync();
        Assert.Equal(11, records.Count);
        Assert.Equal(["auto-cheap", "claude-haiku-4-5"], records.Select(r => r.RequestedModel).Distinct().Order(StringComparer.Ordinal));
        Assert.All(records, record => Assert.Equal(record.RoutedModel.ToLowerInvariant(), record.RoutedModel));

        var metrics = await http.GetStringAsync("metrics");
        Assert.Equal(["claude-haiku-4-5"], Labels(metrics, "modelmix_attempts_total", "gen_ai_request_model").Where(m => string.Equals(m, "claude-haiku-4-5", StringComparison.OrdinalIgnoreCase)));
    }

    [Fact]
    public async Task Made_up_model_names_take_a_bounded_number_of_metric_labels()
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var http = harness.Http();
        const int Names = 300;

        for (var i = 0; i < Names; i++)
        {
            using var response = await http.PostAsync("v1/messages", ProxyValidationTests.Json($$"""{"model":"claude-made-up-{{i}}","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"""));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode); // forwarded, recorded unpriced
        }

        // Only this test's names: /metrics also shows the meters of proxies other tests run in this process.
        var models = Labels(await http.GetStringAsync("metrics"), "modelmix_attempts_total", "gen_ai_request_model")
            .Where(model => model.StartsWith("claude-made-up-", StringComparison.Ordinal) || model == "other").ToList();
        Assert.Equal(ModelMix.Telemetry.ModelMixMetrics.MaxUnlistedModels + 1, models.Count); // 32 names and "other"
        Assert.Contains("other", models);
    }

    [Fact]
    public async Task Once_keys_exist_metrics_need_an_admin_key_unless_configured_open()
    {
        await using var harness = await ProxyHarness.StartAsync();
        string user, admin;
        await using (var keys = new SqliteKeyStore(harness.DbPath))
        {
            user = (await keys.CreateAsync("team-a")).Key;
            admin = (await keys.CreateAsync("ops", isAdmin: true)).Key;
        }

        using var http = harness.Http();
        using var anonymous = await http.GetAsync("metrics");
        await Security.BrowserGuardTests.AssertAnthropicRefusalAsync(anonymous, HttpStatusCode.Unauthorized, "authentication_error", "admin key");
        Assert.Equal("Basic", anonymous.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(HttpStatusCode.Forbidden, (await ScrapeAsync(http, new AuthenticationHeaderValue("Bearer", user))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ScrapeAsync(http, new AuthenticationHeaderValue("Bearer", admin[..^2] + "xx"))).StatusCode);
        using var bearer = await ScrapeAsync(http, new AuthenticationHeaderValue("Bearer", admin)); // Prometheus: authorization.credentials
        Assert.Equal(HttpStatusCode.OK, bearer.StatusCode);
        Assert.Contains("modelmix_refusals_total", await bearer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var basic = await ScrapeAsync(http, new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("prometheus:" + admin)))); // basic_auth
        Assert.Equal(HttpStatusCode.OK, basic.StatusCode);
        SqliteConnection.ClearAllPools();

        await using var open = await ProxyHarness.StartAsync(settings => settings["ModelMix:MetricsRequireAdminKey"] = "false");
        await using (var keys = new SqliteKeyStore(open.DbPath))
        {
            await keys.CreateAsync("team-a");
        }

        using var openHttp = open.Http();
        Assert.Equal(HttpStatusCode.OK, (await openHttp.GetAsync("metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await openHttp.PostAsync("v1/messages", ProxyValidationTests.Json("""{"model":"claude-haiku-4-5","max_tokens":5,"messages":[]}"""))).StatusCode);
    }

    private static async Task<HttpResponseMessage> ScrapeAsync(HttpClient http, AuthenticationHeaderValue authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "metrics");
        request.Headers.Authorization = authorization;
        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    /// <summary>The distinct values of one label of one metric in Prometheus text.</summary>
    private static List<string> Labels(string metrics, string metric, string label) =>
        [.. Regex.Matches(metrics, "^" + Regex.Escape(metric) + @"\{[^}]*\b" + Regex.Escape(label) + "=\"([^\"]*)\"", RegexOptions.Multiline)
            .Select(match => match.Groups[1].Value).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
}
