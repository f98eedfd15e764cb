using Microsoft.Extensions.Options;

namespace ModelMix.Server;

/// <summary>Checks <see cref="ProxyOptions"/> at start-up so a bad configuration fails fast with the key it names.</summary>
internal sealed class ProxyOptionsValidator : IValidateOptions<ProxyOptions>
{
    public ValidateOptionsResult Validate(string? name, ProxyOptions options)
    {
        var failures = new List<string>();
        if (options.Upstream is null || !options.Upstream.IsAbsoluteUri || (options.Upstream.Scheme != Uri.UriSchemeHttp && options.Upstream.Scheme != Uri.UriSchemeHttps))
        {
            failures.Add($"{ProxyOptions.SectionName}:Upstream must be an absolute http(s) URL, got '{options.Upstream}'.");
        }

        if (string.IsNullOrWhiteSpace(options.DefaultAnthropicVersion))
        {
            failures.Add($"{ProxyOptions.SectionName}:DefaultAnthropicVersion must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(options.StoreSetting))
        {
            failures.Add($"{ProxyOptions.SectionName}:Db must name the SQLite ledger file.");
        }
        else
        {
            try
            {
                _ = ModelMix.Stores.StoreLocation.Parse(options.StoreSetting);
            }
            catch (FormatException exception)
            {
                failures.Add($"{ProxyOptions.SectionName}:{(options.Store is { Length: > 0 } ? "Store" : "Db")}: {exception.Message}");
            }
        }

        if (options.UpstreamTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{ProxyOptions.SectionName}:UpstreamTimeout must be positive, got {options.UpstreamTimeout}.");
        }

        if (options.RetryBaseDelay < TimeSpan.Zero || options.MaxRetryDelay < TimeSpan.Zero)
        {
            failures.Add($"{ProxyOptions.SectionName}:RetryBaseDelay and MaxRetryDelay must not be negative.");
        }

        if (options.LedgerFlushInterval <= TimeSpan.Zero || options.LedgerFlushInterval > TimeSpan.FromSeconds(10))
        {
            failures.Add($"{ProxyOptions.SectionName}:LedgerFlushInterval must be between 0 and 10 seconds, got {options.LedgerFlushInterval}.");
        }

        if (options.InlineConnections < 0)
        {
            failures.Add($"{ProxyOptions.SectionName}:InlineConnections must not be negative (0 runs every connection on the thread pool), got {options.InlineConnections}.");
        }

        if (options.StreamIdleTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{ProxyOptions.SectionName}:StreamIdleTimeout must be positive, got {options.StreamIdleTimeout}.");
        }

        if (options.MaxAnswerBytes < 1024)
        {
            failures.Add($"{ProxyOptions.SectionName}:MaxAnswerBytes must be at least 1024, got {options.MaxAnswerBytes}.");
        }

        if (options.MaxOrphanedCalls < 0)
        {
            failures.Add($"{ProxyOptions.SectionName}:MaxOrphanedCalls must be 0 or more, got {options.MaxOrphanedCalls}.");
        }

        if (options.MaxOrphanedStreamBytes < 0)
        {
            failures.Add($"{ProxyOptions.SectionName}:MaxOrphanedStreamBytes must be 0 or more, got {options.MaxOrphanedStreamBytes}.");
        }

        if (options.Replicas is < 1 or > 10_000)
        {
            failures.Add($"{ProxyOptions.SectionName}:Replicas must be between 1 and 10000 (how many replicas share the store), got {options.Replicas}.");
        }

        if (options.MaxRetries is < 0 or > 10)
        {
            failures.Add($"{ProxyOptions.SectionName}:MaxRetries must be between 0 and 10, got {options.MaxRetries}.");
        }

        if (options.MaxRequestBodyBytes < 1024)
        {
            failures.Add($"{ProxyOptions.SectionName}:MaxRequestBodyBytes must be at least 1024, got {options.MaxRequestBodyBytes}.");
        }

        if (options.Prices is { Length: > 0 } prices && !File.Exists(prices))
        {
            failures.Add($"{ProxyOptions.SectionName}:Prices names '{prices}', which does not exist.");
        }

        for (var i = 0; i < (options.AllowedHosts?.Length ?? 0); i++)
        {
            if (!BrowserGuard.IsHostName(options.AllowedHosts![i]))
            {
                failures.Add($"{ProxyOptions.SectionName}:AllowedHosts:{i} must be a host name or an IP address without scheme, port or path (e.g. modelmix.internal), got '{options.AllowedHosts[i]}'.");
            }
        }

        for (var i = 0; i < (options.AllowedOrigins?.Length ?? 0); i++)
        {
            if (BrowserGuard.NormalizeOrigin(options.AllowedOrigins![i]) is null)
            {
                failures.Add($"{ProxyOptions.SectionName}:AllowedOrigins:{i} must be an origin, scheme://host[:port] with no path (e.g. http://localhost:3000), got '{options.AllowedOrigins[i]}'.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
