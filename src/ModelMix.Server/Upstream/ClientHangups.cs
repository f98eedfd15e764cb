using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Telemetry;

namespace ModelMix.Server;

/// <summary>
/// What the proxy does with the upstream calls of a client that hangs up (docs/ledger.md, "Clients that hang up").
/// A call that reached the upstream is billed by the API whatever the client does, so it is never cancelled just
/// because the client left: the proxy lets it finish — a buffered answer is awaited, a stream is read to its end
/// without being relayed — and records its real usage, charged to the key's budget like any other call. Only when
/// more than <see cref="ProxyOptions.MaxOrphanedCalls"/> calls are already running for clients that left, or an
/// orphaned stream goes past its bounds, does the proxy stop the call, and it then records a documented estimate
/// (<see cref="Ledger.LedgerRecord.UsageEstimated"/>). No further attempt (retry, fallback, cascade tier, rating) is
/// started for a client that left.
/// </summary>
internal sealed class ClientHangups
{
    private readonly int _maxOrphans;
    private readonly AttemptTimeouts _sources = new();
    private readonly Counter<long> _hangups;
    private readonly ILogger<ClientHangups> _logger;
    private int _orphans;

    public ClientHangups(IOptions<ProxyOptions> options, IMeterFactory meters, ILogger<ClientHangups> logger)
    {
        _maxOrphans = options.Value.MaxOrphanedCalls;
        _logger = logger;
        _hangups = meters.Create(ModelMixMetrics.MeterName).CreateCounter<long>(
            "modelmix.client_disconnects", null, "Requests whose client hung up before the answer was complete, by what the proxy did with the upstream call (finished, stopped).");
    }

    /// <summary>How many upstream calls are running now for clients that left.</summary>
    public int Orphans => Volatile.Read(ref _orphans);

    /// <summary>Starts watching one request's client; dispose of the watch when the request is over.</summary>
    public CallWatch Watch(CancellationToken clientAborted) => new(this, clientAborted);

    private bool TryAdopt()
    {
        if (Interlocked.Increment(ref _orphans) <= _maxOrphans)
        {
            return true;
        }

        Interlocked.Decrement(ref _orphans);
        return false;
    }

    private void Release() => Interlocked.Decrement(ref _orphans);

    private void Count(string outcome) => _hangups.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary>
    /// One request's client and its upstream calls. <see cref="Token"/> is what upstream calls run under: it is not
    /// the client's abort token, and it is cancelled only when the proxy gives up on a call of a client that left.
    /// </summary>
    internal sealed class CallWatch : IDisposable
    {
        private readonly ClientHangups _owner;
        private readonly AttemptTimeouts.Attempt _upstream;
        private readonly CancellationToken _client;
        private CancellationTokenRegistration _registration;
        private int _state; // 0: client present; 1: gone, call adopted; 2: gone, call stopped
        private bool _stopCounted;

        internal CallWatch(ClientHangups owner, CancellationToken clientAborted)
        {
            _owner = owner;
            _client = clientAborted;
            _upstream = owner._sources.Start(Timeout.InfiniteTimeSpan, CancellationToken.None);
            _registration = clientAborted.UnsafeRegister(static state => ((CallWatch)state!).OnClientGone(), this);
        }

        /// <summary>The token upstream calls made for this request run under (see the class remarks).</summary>
        public CancellationToken Token => _upstream.Token;

        /// <summary>The client's own abort token: for writes to the client, and for waits that only the client is served by.</summary>
        public CancellationToken Client => _client;

        /// <summary>Whether the client has gone away.</summary>
        public bool ClientGone => _client.IsCancellationRequested;

        /// <summary>Whether the proxy stopped this request's upstream call because the client left (see <see cref="Stop"/>).</summary>
        public bool Stopped => Volatile.Read(ref _state) == 2;

        /// <summary>
        /// Gives up on the upstream call of a client that left (an orphaned stream past its bounds): cancels
        /// <see cref="Token"/>. The caller records the documented estimate.
        /// </summary>
        public void Stop()
        {
            if (Interlocked.Exchange(ref _state, 2) == 1)
            {
                _owner.Release();
            }

            CountStop();
            _upstream.Cancel();
        }

        private void OnClientGone()
        {
            if (_owner.TryAdopt())
            {
                if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
                {
                    _owner.Release(); // stopped meanwhile
                }

                return;
            }

            Log.OrphanLimit(_owner._logger, _owner._maxOrphans);
            Volatile.Write(ref _state, 2);
            CountStop();
            _upstream.Cancel();
        }

        private void CountStop()
        {
            if (!_stopCounted)
            {
                _stopCounted = true;
                _owner.Count("stopped");
            }
        }

        /// <summary>Ends the watch: releases the orphan slot, if one was taken, and counts how the request ended.</summary>
        public void Dispose()
        {
            _registration.Dispose(); // waits for a running client-gone callback, so the state below is final
            if (Interlocked.Exchange(ref _state, 3) == 1)
            {
                _owner.Release();
                _owner.Count("finished");
            }

            _upstream.Dispose();
        }
    }
}
