using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// The proxy's socket transport: connections accepted while few are open run inline on the socket event threads,
/// later ones on the thread pool, and a closed connection frees its place (AdaptiveSocketTransport).
/// </summary>
public sealed class AdaptiveSocketTransportTests
{
    [Fact]
    public async Task Connections_past_the_limit_run_on_the_thread_pool_and_a_closed_one_frees_its_place()
    {
        await using var server = await StartAsync(inlineLimit: 2);
        using var first = Client();
        using var second = Client();
        using var third = Client();

        Assert.True(await InlineAsync(first, server.Url));
        Assert.True(await InlineAsync(second, server.Url));
        Assert.False(await InlineAsync(third, server.Url));
        Assert.True(await InlineAsync(first, server.Url)); // a connection keeps its mode

        first.Dispose(); // closes its connection, and third's: one is open now, so the next one (the second open) runs inline again
        third.Dispose();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        bool inline;
        do
        {
            using var next = Client();
            inline = await InlineAsync(next, server.Url);
            if (!inline)
            {
                await Task.Delay(50);
            }
        }
        while (!inline && DateTime.UtcNow < deadline);

        Assert.True(inline, "a connection accepted after one of the inline ones closed should run inline");
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(int.MaxValue, true)]
    public async Task Limit_zero_runs_every_connection_on_the_pool_and_no_limit_runs_every_one_inline(int limit, bool expected)
    {
        await using var server = await StartAsync(limit);
        var clients = Enumerable.Range(0, 5).Select(_ => Client()).ToList();
        try
        {
            foreach (var client in clients)
            {
                Assert.Equal(expected, await InlineAsync(client, server.Url));
            }
        }
        finally
        {
            clients.ForEach(client => client.Dispose());
        }
    }

    [Fact]
    public async Task Address_in_use_fails_the_start()
    {
        await using var server = await StartAsync(inlineLimit: 4);

        await using var second = Build(4, server.Url.ToString());
        await Assert.ThrowsAnyAsync<IOException>(() => second.StartAsync());
    }

    /// <summary>A client with its own connection pool of one kept-alive connection.</summary>
    private static HttpClient Client() => new(new SocketsHttpHandler { MaxConnectionsPerServer = 1, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) });

    private static async Task<bool> InlineAsync(HttpClient client, Uri url) => bool.Parse(await client.GetStringAsync(new Uri(url, "mode")));

    private static WebApplication Build(int inlineLimit, string url)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(url);
        builder.Services.AddSingleton<IConnectionListenerFactory>(new AdaptiveSocketTransport(new SocketTransportOptions(), NullLoggerFactory.Instance, inlineLimit));
        var app = builder.Build();
        app.MapGet("/mode", (HttpContext context) => context.Features.Get<IConnectionItemsFeature>()!.Items[AdaptiveSocketTransport.InlineItem]!.ToString());
        return app;
    }

    private static async Task<Server> StartAsync(int inlineLimit)
    {
        var app = Build(inlineLimit, "http://127.0.0.1:0");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Server(app, new Uri(address.TrimEnd('/') + "/"));
    }

    private sealed record Server(WebApplication App, Uri Url) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => App.DisposeAsync();
    }
}
