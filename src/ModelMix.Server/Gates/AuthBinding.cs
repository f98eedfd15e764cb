using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ModelMix.Server;

/// <summary>
/// The addresses the proxy listens on (the <c>urls</c> setting and any <c>Kestrel:Endpoints:*:Url</c>) and whether
/// all of them are loopback, which is the only way the proxy may serve without virtual keys.
/// </summary>
internal sealed class AuthBinding
{
    /// <summary>The binding of the listen addresses in <paramref name="addresses"/> (<see cref="ListenAddresses.Add"/>).</summary>
    public AuthBinding(IOptions<ListenAddresses> addresses)
    {
        var configured = addresses.Value.All();
        var urls = configured.Count > 0 ? configured : [ProxyApplication.DefaultUrls];
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

/// <summary>
/// The addresses the host listens on, as options bound from the host's configuration (ASP.NET Core's keys, not a
/// <c>ModelMix</c> section): the <c>urls</c> setting (<c>;</c>-separated) and every <c>Kestrel:Endpoints:*:Url</c>.
/// </summary>
internal sealed class ListenAddresses
{
    /// <summary>The host's <c>urls</c> setting, as written.</summary>
    public string? Urls { get; set; }

    /// <summary>The <c>Kestrel</c> section's endpoints.</summary>
    public KestrelSettings Kestrel { get; set; } = new();

    /// <summary>Registers the options, bound from <paramref name="configuration"/> (the root).</summary>
    public static void Add(IServiceCollection services, IConfiguration configuration) =>
        services.AddOptions<ListenAddresses>().Bind(configuration);

    /// <summary>The configured addresses: those of <c>urls</c>, then each endpoint's (in key order); empty when none is (the proxy's default then applies).</summary>
    public List<string> All()
    {
        var all = new List<string>();
        if (Urls is { Length: > 0 } configured)
        {
            all.AddRange(configured.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        foreach (var endpoint in Kestrel.Endpoints.Values)
        {
            if (endpoint.Url is { Length: > 0 } url)
            {
                all.Add(url);
            }
        }

        return all;
    }

    /// <summary><c>Kestrel</c>: only the endpoints' URLs are read.</summary>
    internal sealed class KestrelSettings
    {
        /// <summary><c>Kestrel:Endpoints</c>, by name.</summary>
        public Dictionary<string, EndpointSettings> Endpoints { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary><c>Kestrel:Endpoints:{name}</c>: only <c>Url</c> is read.</summary>
    internal sealed class EndpointSettings
    {
        /// <summary>The endpoint's URL.</summary>
        public string? Url { get; set; }
    }
}
