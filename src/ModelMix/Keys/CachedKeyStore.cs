using System.Collections.Concurrent;
using ModelMix.Budgets;

namespace ModelMix.Keys;

/// <summary>
/// Key authentication off the store's hot path: keeps the stored records of the keys clients present (public id, admin
/// flag, caps, salt and hash — never a key or a secret) in memory and verifies each request's secret against them with
/// <see cref="ApiKeyHasher.Verify"/> (HMAC-SHA256, compared in constant time), so a request costs one hash and no store
/// read. Changes are found by polling the store's change version (one single-row read; database triggers bump it on
/// every insert, update or delete in the key tables, by any replica, the CLI or SQL by hand):
/// <list type="bullet">
/// <item><b>The bound.</b> A request is authenticated only against records whose version was confirmed by a read that
/// <i>started</i> less than <see cref="RecheckInterval"/> ago; otherwise it waits for a new read (one read per process,
/// however many requests wait). So a change committed at time T — revocation, new or changed caps, a new key, a rename,
/// the admin flag — is honoured by every request that arrives after T + <see cref="RecheckInterval"/>, on every replica.
/// While requests flow, the read is started in the background once the confirmation is half that old, so requests
/// rarely wait; an idle process reads nothing.</item>
/// <item><b>Memory.</b> Records of keys that exist are kept (bounded by the keys in the store, which only an operator
/// creates); ids that exist in no row are remembered up to <see cref="MaxUnknownIds"/> per version, after which an
/// unknown id costs one indexed store read, as without the cache. A version change drops everything.</item>
/// <item><b>Failure.</b> When the version cannot be read, requests past the bound fail with the store's error (the
/// proxy answers 503): the cache never extends a key's life because the store is down.</item>
/// </list>
/// Changes made through this instance (<see cref="CreateAsync"/>, <see cref="RevokeAsync"/>) take effect here at once.
/// A <see cref="RecheckInterval"/> of zero turns the cache off (a store read per request).
/// </summary>
internal sealed class CachedKeyStore : IKeyStore
{
    /// <summary>The default of <see cref="RecheckInterval"/>.</summary>
    public static readonly TimeSpan DefaultRecheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>The default of <see cref="MaxUnknownIds"/>.</summary>
    public const int DefaultMaxUnknownIds = 10_000;

    private readonly IKeyStore _inner;
    private readonly IKeyCredentialStore _credentials;
    private readonly TimeProvider _time;
    private readonly long _recheckTicks;
    private readonly Lock _sync = new();
    private Generation? _current;
    private TaskCompletionSource<Generation>? _refreshing;

    /// <summary>Puts a cache in front of <paramref name="inner"/>, which it owns (disposing the cache disposes it).</summary>
    /// <param name="inner">A <c>SqliteKeyStore</c> or <c>PostgresKeyStore</c>.</param>
    /// <param name="recheckInterval">The longest a key change takes to be honoured here (zero: no cache).</param>
    /// <param name="time">The clock; the system clock when null.</param>
    /// <param name="maxUnknownIds">How many ids that match no key are remembered per change version.</param>
    public CachedKeyStore(IKeyStore inner, TimeSpan recheckInterval, TimeProvider? time = null, int maxUnknownIds = DefaultMaxUnknownIds)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfLessThan(recheckInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegative(maxUnknownIds);
        _inner = inner;
        _credentials = inner as IKeyCredentialStore
            ?? throw new ArgumentException($"{inner.GetType().Name} cannot be cached: use a SqliteKeyStore or a PostgresKeyStore.", nameof(inner));
        _time = time ?? TimeProvider.System;
        RecheckInterval = recheckInterval;
        MaxUnknownIds = maxUnknownIds;
        _recheckTicks = (long)(recheckInterval.TotalSeconds * _time.TimestampFrequency);
    }

    /// <summary>The longest a key change made elsewhere takes to be honoured by this cache.</summary>
    public TimeSpan RecheckInterval { get; }

    /// <summary>How many ids that match no key are remembered per change version.</summary>
    public int MaxUnknownIds { get; }

    /// <summary>The store behind the cache.</summary>
    public IKeyStore Inner => _inner;

    /// <inheritdoc />
    public string Location => _inner.Location;

    /// <inheritdoc />
    public Task MigrateAsync(CancellationToken cancellationToken = default) => _inner.MigrateAsync(cancellationToken);

    /// <inheritdoc />
    public async Task<CreatedApiKey> CreateAsync(string name, IReadOnlyList<BudgetCap>? budgets = null, bool isAdmin = false, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _inner.CreateAsync(name, budgets, isAdmin, cancellationToken);
        }
        finally
        // Stryker disable once Block : equivalent (docs/testing.md, keys): the block holds only the Invalidate() below, equivalent for the reason given there
        {
            // Stryker disable once Statement : equivalent (docs/testing.md, keys): a created key's id is new (from the CSPRNG), so no record the cache holds, known or unknown, can be stale; without it only one version read fewer
            Invalidate();
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ApiKeyInfo>> ListAsync(bool includeRevoked = true, CancellationToken cancellationToken = default) => _inner.ListAsync(includeRevoked, cancellationToken);

    /// <inheritdoc />
    public Task<ApiKeyInfo?> FindAsync(string nameOrId, CancellationToken cancellationToken = default) => _inner.FindAsync(nameOrId, cancellationToken);

    /// <inheritdoc />
    public async Task<ApiKeyInfo> RevokeAsync(string nameOrId, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _inner.RevokeAsync(nameOrId, cancellationToken);
        }
        finally
        {
            Invalidate();
        }
    }

    /// <inheritdoc />
    public Task<bool> HasActiveKeysAsync(CancellationToken cancellationToken = default) => _inner.HasActiveKeysAsync(cancellationToken);

    /// <summary>
    /// The key a client presented, when it is a valid key that is not revoked; null otherwise. Verified in memory
    /// against the cached record (constant-time comparison); the store is read only for a key not seen since the last
    /// change, and for the change version at most once per <see cref="RecheckInterval"/>.
    /// </summary>
    public async Task<ApiKeyInfo?> AuthenticateAsync(string? presented, CancellationToken cancellationToken = default)
    {
        if (_recheckTicks == 0)
        {
            return await _inner.AuthenticateAsync(presented, cancellationToken);
        }

        if (presented is null || !ApiKeySecret.TryParse(presented, out var id, out var secret))
        {
            return null;
        }

        var generation = await CurrentAsync(cancellationToken);
        if (!generation.Keys.TryGetValue(id, out var stored))
        {
            stored = await _credentials.FindStoredAsync(id, cancellationToken);
            generation.Remember(id, stored, MaxUnknownIds);
        }

        return ApiKeyVerification.Check(stored, secret);
    }

    /// <summary>Closes the store behind the cache.</summary>
    public ValueTask DisposeAsync() => _inner.DisposeAsync();

    /// <summary>How many key records (known and unknown ids) the cache holds now; for tests and diagnostics.</summary>
    internal int Count => Volatile.Read(ref _current)?.Keys.Count ?? 0;

    /// <summary>Forgets everything, so the next request reads the version and records afresh.</summary>
    private void Invalidate()
    {
        lock (_sync)
        {
            _current = null;
        }
    }

    /// <summary>The records confirmed by a version read started less than the recheck interval ago.</summary>
    private ValueTask<Generation> CurrentAsync(CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref _current);
        if (current is not null)
        {
            var age = _time.GetTimestamp() - current.CheckedAt;
            if (age < _recheckTicks)
            {
                if (age >= _recheckTicks / 2 && Volatile.Read(ref _refreshing) is null)
                {
                    _ = RefreshAsync(); // ahead of the bound, so requests do not wait for it; its faults are observed there
                }

                return ValueTask.FromResult(current);
            }
        }

        return new ValueTask<Generation>(RefreshAsync().WaitAsync(cancellationToken));
    }

    /// <summary>Reads the change version (one read at a time, shared by every caller) and returns the records it confirms.</summary>
    private Task<Generation> RefreshAsync()
    {
        TaskCompletionSource<Generation> refresh;
        lock (_sync)
        {
            if (_refreshing is { } running)
            {
                return running.Task;
            }

            refresh = _refreshing = new TaskCompletionSource<Generation>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        // Stryker disable once Bitwise : equivalent (docs/testing.md, keys): with the options' `|` → `&` (none) the continuation also runs after a refresh that succeeded, and reads a null exception; it only observes a faulted refresh's exception
        _ = refresh.Task.ContinueWith(static task => _ = task.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _ = RunRefreshAsync(refresh);
        return refresh.Task;
    }

    private async Task RunRefreshAsync(TaskCompletionSource<Generation> refresh)
    {
        Generation next;
        try
        {
            // The clock is read before the version, so "confirmed at" is never later than what the read could see.
            var started = _time.GetTimestamp();
            var version = await _credentials.GetChangeVersionAsync(CancellationToken.None);
            lock (_sync)
            {
                _refreshing = null;
                var current = _current;
                if (current is not null && current.Version == version)
                {
                    current.Confirm(started);
                    next = current;
                }
                else
                {
                    // A new version (or none yet): start empty; every record is read after this version was, so none is older than it.
                    next = new Generation(version, started);
                    _current = next;
                }
            }
        }
        catch (Exception exception)
        {
            lock (_sync)
            {
                _refreshing = null;
            }

            refresh.SetException(exception);
            return;
        }

        refresh.SetResult(next);
    }

    /// <summary>The key records read since the store's change version was <see cref="Version"/>.</summary>
    private sealed class Generation(long version, long checkedAt)
    {
        private long _checkedAt = checkedAt;
        private int _unknown;

        public long Version { get; } = version;

        /// <summary>When (a <see cref="TimeProvider.GetTimestamp"/>) the latest read that found <see cref="Version"/> started.</summary>
        public long CheckedAt => Volatile.Read(ref _checkedAt);

        /// <summary>Records by public id; null for an id no key has.</summary>
        public ConcurrentDictionary<string, StoredApiKey?> Keys { get; } = new(StringComparer.Ordinal);

        public void Confirm(long at)
        {
            // Stryker disable once Equality : equivalent (docs/testing.md, keys): at == CheckedAt writes the same value; also drops `>` → `<`, which CachedKeyStoreConfirmationTests kills
            if (at > CheckedAt)
            {
                Volatile.Write(ref _checkedAt, at);
            }
        }

        /// <summary>Keeps a record; an unknown id only while fewer than <paramref name="maxUnknown"/> are kept.</summary>
        public void Remember(string id, StoredApiKey? stored, int maxUnknown)
        {
            if (stored is not null)
            {
                Keys.TryAdd(id, stored);
            }
            else if (Volatile.Read(ref _unknown) < maxUnknown && Keys.TryAdd(id, null))
            {
                Interlocked.Increment(ref _unknown);
            }
        }
    }
}
