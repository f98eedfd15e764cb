using System.Net;
using Microsoft.Extensions.Configuration;

namespace ModelMix.Server;

/// <summary>
/// The addresses the proxy listens on (the <c>urls</c> setting and any <c>Kestrel:Endpoints:*:Url</c>) and whether
/// all of them are loopback, which is the only way the proxy may serve without virtual keys.
/// </summary>
internal sealed class AuthBinding
{
    public AuthBinding(IConfiguration configuration)
    {
        var urls = new List<string>();
        if (configuration["urls"] is { Length: > 0 } configured)
        {
            urls.AddRange(configured.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        foreach (var endpoint in configuration.GetSection("Kestrel:Endpoints").GetChildren())
        {
            if (endpoint["Url"] is { Length: > 0 } url)
            {
                urls.Add(url);
            }
        }

        if (urls.Count == 0)
        {
            urls.Add(ProxyApplication.DefaultUrls);
        }

        Urls = urls;
        LoopbackOnly = urls.TrueForAll(IsLoopback);
    }

    /// <summary>The listen addresses as configured.</summary>
    public IReadOnlyList<string> Urls { get; }

    /// <summary>Whether every listen address is loopback (127.0.0.0/8, ::1 or localhost).</summary>
    public bool LoopbackOnly { get; }

    /// <summary>Whether a listen URL such as <c>http://127.0.0.1:8080</c> binds loopback only (<c>*</c>, <c>+</c>, <c>0.0.0.0</c>, names: no).</summary>
    public static bool IsLoopback(string url)
    {
        var rest = url;
        var scheme = rest.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            rest = rest[(scheme + 3)..];
        }

        string host;
        if (rest.StartsWith('['))
        {
            var close = rest.IndexOf(']', StringComparison.Ordinal);
            host = close > 0 ? rest[1..close] : rest;
        }
        else
        {
            var end = rest.IndexOfAny([':', '/']);
            host = end >= 0 ? rest[..end] : rest;
        }

        return string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
    }
}
