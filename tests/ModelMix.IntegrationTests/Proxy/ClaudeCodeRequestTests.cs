using System.Net;
using System.Text;
using ModelMix.Routing;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// Requests shaped like Claude Code's: its session header is the session, its query string reaches the upstream, and
/// the words of its long, fixed system prompt (or of injected system reminders) do not decide the route.
/// </summary>
public sealed class ClaudeCodeRequestTests : IAsyncLifetime
{
    // A Claude Code-like system prompt that happens to contain words of the default keyword rules.
    private const string System = "You are an interactive CLI tool. Think step by step. Review the architecture when asked. Explain why a change is safe.";

    private ProxyHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await ProxyHarness.StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task The_claude_code_session_header_is_the_session_and_the_query_string_is_forwarded()
    {
        using var http = _harness.Http();

        using var response = await PostAsync(http, "v1/messages?beta=true", Body("claude-haiku-5-5", "Fix the typo in README.md"), claudeCodeSession: "4b1e7c2a-session");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var forwarded = Assert.Single(_harness.Fake.MessageRequests);
        Assert.Equal("?beta=true", forwarded.Query);
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        Assert.Equal("4b1e7c2a-session", record.SessionId);
    }

    [Fact]
    public async Task The_modelmix_session_header_wins_over_claude_codes()
    {
        using var http = _harness.Http();

        using var response = await PostAsync(http, "v1/messages", Body("claude-haiku-5-5", "hi"), claudeCodeSession: "cc-session", modelMixSession: "mine");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("mine", Assert.Single(await _harness.ReadLedgerAsync()).SessionId);
        Assert.Equal(string.Empty, Assert.Single(_harness.Fake.MessageRequests).Query);
    }

    [Fact]
    public async Task Words_in_the_system_prompt_and_in_system_reminders_do_not_pick_the_rule()
    {
        using var http = _harness.Http();
        var body = $$$"""
            {"model":"auto","max_tokens":512,"system":"{{{System}}}","messages":[
              {"role":"user","content":[{"type":"text","text":"<system-reminder>Think step by step; review the architecture.</system-reminder>"},{"type":"text","text":"Rename the variable x to count."}]},
              {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"Read","input":{"file_path":"a.cs"}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"int x = 0; // root cause: none"}]}]}
            """;

        using var response = await PostAsync(http, "v1/messages", body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var record = Assert.Single(await _harness.ReadLedgerAsync());
        // The newest turn a person wrote is "Rename the variable x to count.": no keyword rule matches it, so the catch-all
        // decides (not sonnet-reasoning through "step by step", nor opus-keywords through "review the architecture").
        Assert.StartsWith($"rule '{DefaultRules.Otherwise}'", record.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_persons_own_words_still_route()
    {
        using var http = _harness.Http();
        var body = $$"""{"model":"auto","max_tokens":512,"system":"{{System}}","messages":[{"role":"user","content":"Please do a security review of the login flow."}]}""";

        using var response = await PostAsync(http, "v1/messages", body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith($"rule '{DefaultRules.OpusKeywords}'", Assert.Single(await _harness.ReadLedgerAsync()).Reason, StringComparison.Ordinal);
    }

    private static string Body(string model, string text) =>
        $$"""{"model":"{{model}}","max_tokens":256,"system":"{{System}}","messages":[{"role":"user","content":"{{text}}"}]}""";

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, string path, string body, string? claudeCodeSession = null, string? modelMixSession = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        if (claudeCodeSession is not null)
        {
            request.Headers.Add("x-claude-code-session-id", claudeCodeSession);
        }

        if (modelMixSession is not null)
        {
            request.Headers.Add("x-modelmix-session", modelMixSession);
        }

        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }
}
