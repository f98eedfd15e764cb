using System.Text.Json.Nodes;

namespace FakeAnthropic;

/// <summary>
/// One scripted answer of the fake server to a <c>POST /v1/messages</c> request: a fixture body, a stream,
/// or an API error, plus faults (delays, cut streams, malformed bodies, dropped connections).
/// Immutable: every <c>With…</c> method returns a changed copy.
/// </summary>
public sealed partial record FakeReply
{
    /// <summary>The fixture served by <see cref="Message"/> when none is named.</summary>
    public const string DefaultMessageFixture = "messages/response-text.json";

    /// <summary>The fixture served by <see cref="Stream"/> when none is named.</summary>
    public const string DefaultStreamFixture = "streaming/text.sse";

    private FakeReply(FakeReplyKind kind) => Kind = kind;

    /// <summary>
    /// The server's built-in answer: <see cref="DefaultMessageFixture"/> for a non-streaming request,
    /// <see cref="DefaultStreamFixture"/> when the request has <c>"stream": true</c>.
    /// </summary>
    public static FakeReply Default { get; } = new(FakeReplyKind.Auto);

    /// <summary>What this reply answers with.</summary>
    public FakeReplyKind Kind { get; }

    /// <summary>Fixture path relative to <see cref="SharedFixtures.Root"/> (message and stream replies).</summary>
    public string? Fixture { get; private init; }

    /// <summary>HTTP status code sent (200 unless this is an error reply).</summary>
    public int StatusCode { get; private init; } = 200;

    /// <summary>The <c>error.type</c> of an error reply.</summary>
    public string? ErrorType { get; private init; }

    /// <summary>The <c>error.message</c> of an error reply.</summary>
    public string? ErrorMessage { get; private init; }

    /// <summary>Value of the <c>retry-after</c> header (whole seconds, rounded up), if any.</summary>
    public TimeSpan? RetryAfter { get; private init; }

    /// <summary>Usage that replaces the fixture's, or null to keep it.</summary>
    public FakeUsage? Usage { get; private init; }

    /// <summary>Response <c>model</c> value, or null to answer with the dated snapshot of the requested model.</summary>
    public string? Model { get; private init; }

    /// <summary>Server-side wait before the first byte of the response.</summary>
    public TimeSpan Delay { get; private init; }

    /// <summary>Server-side wait between two stream events.</summary>
    public TimeSpan EventDelay { get; private init; }

    /// <summary>A task the server waits for (after <see cref="Delay"/>) before the first byte, or null for none.</summary>
    public Task? Hold { get; private init; }

    /// <summary>For streams: the number of events sent before the connection is aborted, or null for the whole stream.</summary>
    public int? CutAfterEvents { get; private init; }

    /// <summary>Whether the body (or the first stream event) is truncated to invalid JSON.</summary>
    public bool MalformedBody { get; private init; }

    /// <summary>Whether the connection is aborted without any response.</summary>
    public bool DropConnection { get; private init; }

    /// <summary>Extra response headers sent with this reply (after the standard ones, so they can override them).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ExtraHeaders { get; private init; } = [];

    /// <summary>A non-streaming 200 reply with the body of a <c>messages/*.json</c> fixture.</summary>
    public static FakeReply Message(string fixture = DefaultMessageFixture)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(fixture);
        return new FakeReply(FakeReplyKind.Message) { Fixture = fixture };
    }

    /// <summary>A 200 <c>text/event-stream</c> reply with the events of a <c>streaming/*.sse</c> fixture.</summary>
    public static FakeReply Stream(string fixture = DefaultStreamFixture)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(fixture);
        return new FakeReply(FakeReplyKind.Stream) { Fixture = fixture };
    }

    /// <summary>An API error: <c>{"type":"error","error":{"type":…,"message":…},"request_id":"req_…"}</c>.</summary>
    /// <param name="status">HTTP status (4xx or 5xx); 5xx replies carry <c>x-should-retry: true</c>.</param>
    /// <param name="errorType">The <c>error.type</c>, e.g. <c>rate_limit_error</c>.</param>
    /// <param name="message">The <c>error.message</c>.</param>
    /// <param name="retryAfter">When set, a <c>retry-after</c> header in whole seconds (rounded up).</param>
    public static FakeReply Error(int status, string errorType, string message, TimeSpan? retryAfter = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(status, 400);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(status, 599);
        ArgumentException.ThrowIfNullOrWhiteSpace(errorType);
        ArgumentNullException.ThrowIfNull(message);
        if (retryAfter is { } wait)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(wait, TimeSpan.Zero, nameof(retryAfter));
        }

        return new FakeReply(FakeReplyKind.Error)
        {
            StatusCode = status,
            ErrorType = errorType,
            ErrorMessage = message,
            RetryAfter = retryAfter,
        };
    }

    /// <summary>
    /// A redirect (the Messages API sends none): <paramref name="status"/> (301, 302, 303, 307 or 308) with an error
    /// body and a <c>location</c> header, to check that a client does not follow it.
    /// </summary>
    public static FakeReply Redirect(string location, int status = 307)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        if (status is not (301 or 302 or 303 or 307 or 308))
        {
            throw new ArgumentOutOfRangeException(nameof(status), status, "A redirect status is 301, 302, 303, 307 or 308.");
        }

        return new FakeReply(FakeReplyKind.Error) { StatusCode = status, ErrorType = "api_error", ErrorMessage = "moved" }.WithHeader("location", location);
    }

    /// <summary>A 529 <c>overloaded_error</c> as in <c>errors/529-overloaded_error.json</c>.</summary>
    public static FakeReply Overloaded() =>
        FromErrorFixture(529, "errors/529-overloaded_error.json", retryAfter: null);

    /// <summary>A 429 <c>rate_limit_error</c> as in <c>errors/429-rate_limit_error.json</c>, with <c>retry-after</c>.</summary>
    public static FakeReply RateLimited(TimeSpan retryAfter) =>
        FromErrorFixture(429, "errors/429-rate_limit_error.json", retryAfter);

    /// <summary>A 500 <c>api_error</c> as in <c>errors/500-api_error.json</c>.</summary>
    public static FakeReply ServerError() =>
        FromErrorFixture(500, "errors/500-api_error.json", retryAfter: null);

    /// <summary>
    /// Replaces the usage: in the JSON body, or in <c>message_start</c> (all fields but <c>output_tokens</c>,
    /// which stays the fixture's small placeholder) and <c>message_delta</c> (cumulative counts) of a stream.
    /// <c>cache_creation_input_tokens</c> is always <paramref name="cacheWrite5m"/> + <paramref name="cacheWrite1h"/>.
    /// </summary>
    public FakeReply WithUsage(
        long input,
        long output,
        long cacheWrite5m = 0,
        long cacheWrite1h = 0,
        long cacheRead = 0,
        string serviceTier = "standard",
        string? speed = null,
        string? inferenceGeo = null,
        long webSearchRequests = 0,
        long webFetchRequests = 0) =>
        WithUsage(new FakeUsage(input, output, cacheWrite5m, cacheWrite1h, cacheRead, serviceTier, speed, inferenceGeo, webSearchRequests, webFetchRequests));

    /// <summary>Replaces the usage (see the other overload).</summary>
    public FakeReply WithUsage(FakeUsage usage)
    {
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentOutOfRangeException.ThrowIfNegative(usage.InputTokens, nameof(usage));
        ArgumentOutOfRangeException.ThrowIfNegative(usage.OutputTokens, nameof(usage));
        ArgumentOutOfRangeException.ThrowIfNegative(usage.CacheWrite5mTokens, nameof(usage));
        ArgumentOutOfRangeException.ThrowIfNegative(usage.CacheWrite1hTokens, nameof(usage));
        ArgumentOutOfRangeException.ThrowIfNegative(usage.CacheReadTokens, nameof(usage));
        ArgumentOutOfRangeException.ThrowIfNegative(usage.WebSearchRequests, nameof(usage));
        ArgumentOutOfRangeException.ThrowIfNegative(usage.WebFetchRequests, nameof(usage));
        return this with { Usage = usage };
    }

    /// <summary>Answers with this <c>model</c> value verbatim instead of the requested model's snapshot.</summary>
    public FakeReply WithModel(string model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        return this with { Model = model };
    }

    /// <summary>Waits this long on the server before the first byte (or before dropping the connection).</summary>
    public FakeReply WithDelay(TimeSpan delay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        return this with { Delay = delay };
    }

    /// <summary>
    /// Holds the answer until <paramref name="release"/> completes (after <see cref="Delay"/>): lets a test decide when
    /// the upstream answers (e.g. only once the proxy has seen its client leave) instead of racing a timer.
    /// </summary>
    public FakeReply WithHold(Task release)
    {
        ArgumentNullException.ThrowIfNull(release);
        return this with { Hold = release };
    }

    /// <summary>Waits this long between stream events.</summary>
    public FakeReply WithEventDelay(TimeSpan delay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        return this with { EventDelay = delay };
    }

    /// <summary>
    /// Sends the first <paramref name="events"/> stream events, then aborts the connection (no clean end).
    /// Applies to stream replies (and <see cref="Default"/> when the request streams).
    /// </summary>
    public FakeReply WithCutAfterEvents(int events)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(events);
        if (Kind is FakeReplyKind.Message or FakeReplyKind.Error)
        {
            throw new InvalidOperationException($"WithCutAfterEvents applies to stream replies, not {Kind}.");
        }

        return this with { CutAfterEvents = events };
    }

    /// <summary>Answers 200 with a body that is not valid JSON (for streams: a first event with truncated data).</summary>
    public FakeReply WithMalformedBody() => this with { MalformedBody = true };

    /// <summary>Aborts the connection without sending any response (after <see cref="Delay"/>).</summary>
    public FakeReply WithDropConnection() => this with { DropConnection = true };

    /// <summary>Adds (or overrides) a response header.</summary>
    public FakeReply WithHeader(string name, string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(value);
        return this with { ExtraHeaders = [.. ExtraHeaders, new KeyValuePair<string, string>(name, value)] };
    }

    private static FakeReply FromErrorFixture(int status, string fixture, TimeSpan? retryAfter)
    {
        var error = JsonNode.Parse(SharedFixtures.Read(fixture))!["error"]!;
        return Error(status, error["type"]!.GetValue<string>(), error["message"]!.GetValue<string>(), retryAfter);
    }
}
