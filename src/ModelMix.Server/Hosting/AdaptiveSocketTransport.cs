using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;

namespace ModelMix.Server;

/// <summary>
/// Kestrel's socket transport, deciding for each accepted connection where its requests run
/// (<see cref="ProxyOptions.InlineConnections"/>, docs/performance.md "Fifth round"):
/// <list type="bullet">
/// <item>while at most <see cref="InlineLimit"/> connections are open (the new one counted), on the socket event threads,
/// with Kestrel's inline scheduling: no thread-pool hand-off between the socket and the request, the least added
/// latency and CPU per request;</item>
/// <item>past that, on the thread pool, as Kestrel's own transport does: with many busy connections on saturated cores,
/// the pool's threads keep throughput up.</item>
/// </list>
/// A connection keeps its mode for its lifetime; each one's mode is in its connection items under <see cref="InlineItem"/>.
/// </summary>
internal sealed class AdaptiveSocketTransport : IConnectionListenerFactory, IDisposable
{
    /// <summary>The connection item that says whether the connection runs inline (<c>true</c>) or on the thread pool.</summary>
    public const string InlineItem = "modelmix.inline-scheduling";

    private readonly SocketTransportOptions _options;
    private readonly SocketConnectionContextFactory _inline;
    private readonly SocketConnectionContextFactory _pooled;
    private readonly Lazy<int> _inlineLimit;

    /// <param name="options">Kestrel's socket options: backlog, buffers, the listen socket; <c>UnsafePreferInlineScheduling</c> is decided here.</param>
    /// <param name="loggers">For the transport's own log lines (connection resets and the like).</param>
    /// <param name="inlineLimit">How many open connections may run inline; 0: none, <see cref="int.MaxValue"/>: all.</param>
    public AdaptiveSocketTransport(SocketTransportOptions options, ILoggerFactory loggers, int inlineLimit)
        : this(options, loggers, new Lazy<int>(inlineLimit))
    {
        ArgumentOutOfRangeException.ThrowIfNegative(inlineLimit);
    }

    /// <param name="options">Kestrel's socket options.</param>
    /// <param name="loggers">For the transport's own log lines.</param>
    /// <param name="inlineLimit">
    /// How many open connections may run inline, asked for when the first address is bound: Kestrel builds its transport
    /// before the host validates the options at start, and binds only after, so the proxy's validated options can say.
    /// </param>
    public AdaptiveSocketTransport(SocketTransportOptions options, ILoggerFactory loggers, Func<int> inlineLimit)
        : this(options, loggers, new Lazy<int>(inlineLimit))
    {
    }

    private AdaptiveSocketTransport(SocketTransportOptions options, ILoggerFactory loggers, Lazy<int> inlineLimit)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        _options = options;
        _inlineLimit = inlineLimit;
        var logger = loggers.CreateLogger("Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets");
        _inline = new SocketConnectionContextFactory(FactoryOptions(options, inline: true), logger);
        _pooled = new SocketConnectionContextFactory(FactoryOptions(options, inline: false), logger);
    }

    /// <summary>How many open connections may run inline.</summary>
    public int InlineLimit => _inlineLimit.Value;

    /// <inheritdoc />
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(InlineLimit); // decided now, from the validated options
        Socket socket;
        try
        {
            socket = _options.CreateBoundListenSocket(endpoint); // Kestrel's own: [::] dual-mode, Unix sockets, inherited handles
        }
        catch (SocketException exception) when (exception.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new AddressInUseException(exception.Message, exception);
        }

        try
        {
            socket.Listen(_options.Backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return ValueTask.FromResult<IConnectionListener>(new Listener(this, socket));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _inline.Dispose();
        _pooled.Dispose();
    }

    private static SocketConnectionFactoryOptions FactoryOptions(SocketTransportOptions options, bool inline) => new()
    {
        IOQueueCount = options.IOQueueCount,
        WaitForDataBeforeAllocatingBuffer = options.WaitForDataBeforeAllocatingBuffer,
        MaxReadBufferSize = options.MaxReadBufferSize,
        MaxWriteBufferSize = options.MaxWriteBufferSize,
        UnsafePreferInlineScheduling = inline,
    };

    /// <summary>Accepts connections on one bound socket, counting the open ones to choose each new one's mode.</summary>
    private sealed class Listener(AdaptiveSocketTransport transport, Socket socket) : IConnectionListener
    {
        private int _open;

        public EndPoint EndPoint { get; } = socket.LocalEndPoint!;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                Socket accepted;
                try
                {
                    accepted = await socket.AcceptAsync(cancellationToken);
                }
                catch (ObjectDisposedException)
                {
                    return null; // unbound: no more connections (Kestrel's contract)
                }
                catch (SocketException exception) when (exception.SocketErrorCode == SocketError.OperationAborted)
                {
                    return null;
                }
                catch (SocketException)
                {
                    continue; // reset while still in the backlog: take the next one
                }

                if (accepted.LocalEndPoint is IPEndPoint)
                {
                    accepted.NoDelay = transport._options.NoDelay;
                }

                var inline = Interlocked.Increment(ref _open) <= transport._inlineLimit.Value;
                ConnectionContext connection;
                try
                {
                    connection = (inline ? transport._inline : transport._pooled).Create(accepted);
                }
                catch
                {
                    Interlocked.Decrement(ref _open);
                    accepted.Dispose();
                    throw;
                }

                connection.Items[InlineItem] = inline;
                connection.ConnectionClosed.UnsafeRegister(static listener => Interlocked.Decrement(ref ((Listener)listener!)._open), this);
                return connection;
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            socket.Dispose();
            return default;
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return default;
        }
    }
}
