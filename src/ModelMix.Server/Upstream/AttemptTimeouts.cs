using System.Collections.Concurrent;

namespace ModelMix.Server;

/// <summary>
/// Cancellation for upstream attempts: each is cancelled when the client goes away (the linked token) or when its
/// time is up. The token sources are pooled, as YARP pools its per-request sources: a linked source, its registration
/// list and its timer were three allocations and a timer-queue insert and removal per request (docs/performance.md,
/// eighth round). A source goes back to the pool only when <see cref="CancellationTokenSource.TryReset"/> says it was
/// never cancelled, which also stops its timer.
/// </summary>
internal sealed class AttemptTimeouts
{
    /// <summary>How many idle sources a pool keeps by default (one per request in flight is all it needs).</summary>
    public const int DefaultMaxPooled = 1024;

    private readonly ConcurrentQueue<CancellationTokenSource> _pool = new();
    private readonly int _maxPooled;
    private int _pooled;

    public AttemptTimeouts(int maxPooled = DefaultMaxPooled)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxPooled);
        _maxPooled = maxPooled;
    }

    /// <summary>How many idle sources the pool holds now.</summary>
    public int Pooled => Volatile.Read(ref _pooled);

    /// <summary>Starts an attempt's clock: its token is cancelled after <paramref name="after"/>, or as soon as <paramref name="linked"/> is.</summary>
    public Attempt Start(TimeSpan after, CancellationToken linked)
    {
        var source = Rent();
        // Registered first, so a token that is already cancelled cancels the source at once (as a linked source would).
        var link = linked.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), source);
        source.CancelAfter(after);
        return new Attempt(this, source, link);
    }

    private CancellationTokenSource Rent()
    {
        while (_pool.TryDequeue(out var source))
        {
            Interlocked.Decrement(ref _pooled);
            if (!source.IsCancellationRequested)
            {
                return source;
            }

            source.Dispose(); // its timer fired while it was being returned
        }

        return new CancellationTokenSource();
    }

    private void Return(CancellationTokenSource source)
    {
        if (source.TryReset())
        {
            if (Interlocked.Increment(ref _pooled) <= _maxPooled)
            {
                _pool.Enqueue(source);
                return;
            }

            Interlocked.Decrement(ref _pooled); // the pool is full
        }

        source.Dispose();
    }

    /// <summary>One attempt's cancellation; dispose of it (once) when the attempt is over.</summary>
    public readonly struct Attempt : IDisposable
    {
        private readonly AttemptTimeouts _owner;
        private readonly CancellationTokenSource _source;
        private readonly CancellationTokenRegistration _link;

        internal Attempt(AttemptTimeouts owner, CancellationTokenSource source, CancellationTokenRegistration link)
        {
            _owner = owner;
            _source = source;
            _link = link;
        }

        /// <summary>The token to pass to the attempt's calls.</summary>
        public CancellationToken Token => _source.Token;

        /// <summary>Cancels the token now.</summary>
        public void Cancel() => _source.Cancel();

        /// <summary>Restarts the clock: the token is cancelled <paramref name="after"/> from now (an idle timeout re-armed on every read).</summary>
        public void Restart(TimeSpan after) => _source.CancelAfter(after);

        /// <summary>Unlinks the source and returns it to the pool if it was never cancelled; otherwise disposes of it.</summary>
        public void Dispose()
        {
            _link.Dispose(); // waits for a client-gone callback running now, so the source's state is final below
            _owner.Return(_source);
        }
    }
}
