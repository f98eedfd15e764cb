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
        var urls = addresses.Value.Urls.Count > 0 ? addresses.Value.Urls : [ProxyApplication.DefaultUrls];
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
/// The addresses the host listens on, as options: the host's <c>urls</c> setting (<c>;</c>-separated) and every
/// <c>Kestrel:Endpoints:*:Url</c>, read from the host's configuration (ASP.NET Core's keys, not a <c>ModelMix</c> section).
/// </summary>
internal sealed class ListenAddresses
{
    /// <summary>The configured addresses; empty when none is (the proxy's default then applies).</summary>
    public List<string> Urls { get; } = [];

    /// <summary>Registers the options, read from the host's <see cref="IConfiguration"/>.</summary>
    public static void Add(IServiceCollection services) =>
        services.AddOptions<ListenAddresses>().Configure<IConfiguration>((options, configuration) =>
        {
            if (configuration["urls"] is { Length: > 0 } configured)
            {
                options.Urls.AddRange(configured.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            }

            foreach (var endpoint in configuration.GetSection("Kestrel:Endpoints").GetChildren())
            {
                if (endpoint["Url"] is { Length: > 0 } url)
                {
                    options.Urls.Add(url);
                }
            }
        });
}
