using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace FakeAnthropic;

/// <summary>The headers the API sends on every response (errors/headers.md).</summary>
internal static class WireHeaders
{
    public const string OrganizationId = "0f3c9a52-6d1e-4b7a-9c35-2e8f41d07ab6";

    /// <summary>Sets <c>request-id</c>, <c>anthropic-organization-id</c> and the rate-limit family.</summary>
    /// <param name="response">The response to decorate.</param>
    /// <param name="requestId">This response's <c>req_…</c> id.</param>
    /// <param name="now">The current time, for the reset timestamps.</param>
    /// <param name="exhausted">True for a 429: token budgets at zero, as in the headers.md example.</param>
    public static void Apply(HttpResponse response, string requestId, DateTimeOffset now, bool exhausted)
    {
        var h = response.Headers;
        h["request-id"] = requestId;
        h["anthropic-organization-id"] = OrganizationId;
        h["anthropic-ratelimit-requests-limit"] = "1000";
        h["anthropic-ratelimit-requests-remaining"] = exhausted ? "987" : "999";
        h["anthropic-ratelimit-requests-reset"] = Rfc3339(now.AddSeconds(1));
        h["anthropic-ratelimit-tokens-limit"] = "50000";
        h["anthropic-ratelimit-tokens-remaining"] = exhausted ? "0" : "49000";
        h["anthropic-ratelimit-tokens-reset"] = Rfc3339(now.AddSeconds(exhausted ? 14 : 1));
        h["anthropic-ratelimit-input-tokens-limit"] = "50000";
        h["anthropic-ratelimit-input-tokens-remaining"] = exhausted ? "0" : "49000";
        h["anthropic-ratelimit-input-tokens-reset"] = Rfc3339(now.AddSeconds(exhausted ? 14 : 1));
        h["anthropic-ratelimit-output-tokens-limit"] = "10000";
        h["anthropic-ratelimit-output-tokens-remaining"] = "9000";
        h["anthropic-ratelimit-output-tokens-reset"] = Rfc3339(now.AddSeconds(1));
    }

    /// <summary>Whole seconds, rounded up, as the <c>retry-after</c> header carries them.</summary>
    public static string RetryAfterSeconds(TimeSpan wait) =>
        ((long)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    private static string Rfc3339(DateTimeOffset at) =>
        at.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
