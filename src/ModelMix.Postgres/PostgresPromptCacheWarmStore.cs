using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelMix.Caching;
using ModelMix.Ledger;
using Npgsql;

namespace ModelMix.Postgres;

/// <summary>
/// Cache-warm sessions shared by every proxy replica on the database, so a session warmed through one replica stays
/// on its warm model when its next turn reaches another. One row per session (model, prefix tokens, expiry in 100 ns
/// ticks since the Unix epoch); a write replaces the session's row. Expired rows are ignored when read and deleted
/// every <see cref="PostgresPromptCacheWarmStoreOptions.PruneInterval"/>, so the table holds only live sessions.
/// </summary>
/// <remarks>
/// Cheap on the request path: <see cref="SetAsync"/> updates a local copy and queues the row for a background writer
/// (batched upserts), so it never waits for the database; <see cref="GetAsync"/> answers from the local copy while it
/// is younger than <see cref="PromptCacheWarmStoreOptions.LocalCacheTtl"/>, else reads one row. So a replica
/// may see a session's warmth up to that TTL (plus the writer's few milliseconds) late. The store is advisory: when
/// the database cannot be reached it logs once, answers from what this replica knows locally, and tries the
/// database again after <see cref="PromptCacheWarmStoreOptions.RetryAfterFailure"/>; it never throws for that.
/// </remarks>
public sealed partial class PostgresPromptCacheWarmStore : IPromptCacheWarmStore, IAsyncDisposable
{
    /// <summary>The component name in <c>modelmix_schema_versions</c>.</summary>
    public const string Component = "cache";

    private const int MaxBatch = 500;

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE prompt_cache_warm (
            session_id    text   PRIMARY KEY,
            model         text   NOT NULL,
            prefix_tokens bigint NOT NULL,
            expires_at    bigint NOT NULL
        );
        CREATE INDEX ix_prompt_cache_warm_expires_at ON prompt_cache_warm (expires_at);
        """,
    ];

    private readonly PostgresDatabase _database;
    private readonly PostgresPromptCacheWarmStoreOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, LocalEntry> _local = new(StringComparer.Ordinal);
    private readonly Channel<Write> _writes = Channel.CreateBounded<Write>(new BoundedChannelOptions(100_000) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _writer;
    private readonly PeriodicTimer _pruneTimer;
    private readonly Task _pruner;
    private readonly PostgresMigrator _migrations;
    private int _failing;
    private long _retryAt;
    private int _disposed;

    /// <summary>Creates a store over the PostgreSQL database of <paramref name="connectionString"/> and starts its background writer.</summary>
    /// <param name="connectionString">An Npgsql connection string.</param>
    /// <param name="options">Tuning; defaults when null.</param>
    /// <param name="time">The clock for local freshness, pruning and retries; the system clock when null.</param>
    /// <param name="logger">Where an unreachable database is reported (once per outage).</param>
    public PostgresPromptCacheWarmStore(string connectionString, PostgresPromptCacheWarmStoreOptions? options = null, TimeProvider? time = null, ILogger<PostgresPromptCacheWarmStore>? logger = null)
    {
        _options = options ?? new PostgresPromptCacheWarmStoreOptions();
        PostgresPromptCacheWarmStoreOptionsValidator.ThrowIfInvalid(_options);
        _database = new PostgresDatabase(connectionString);
        _migrations = new PostgresMigrator(_database, Component, Migrations);
        _time = time ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _pruneTimer = new PeriodicTimer(_options.PruneInterval, _time); // created here so its first tick counts from now
        _writer = Task.Run(WriteLoopAsync);
        _pruner = Task.Run(PruneLoopAsync);
    }

    /// <summary>The database for messages, without its password.</summary>
    public string Location => _database.Display;

    /// <summary>The options the store runs with (for tests: what a caller's options became).</summary>
    internal PostgresPromptCacheWarmStoreOptions Options => _options;

    /// <summary>Whether the last call to the database failed (the store answers from local state until it succeeds again).</summary>
    public bool Degraded => Volatile.Read(ref _failing) != 0;

    /// <summary>Creates or upgrades the table (also done on first use).</summary>
    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _migrations.MigrateAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<PromptCacheWarmth?> GetAsync(string sessionId, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        var known = _local.TryGetValue(sessionId, out var entry);
        // This replica's own write not yet in the database is newer than anything there.
        if ((known && (entry.Pending || now - entry.FetchedAt < _options.LocalCacheTtl)) || !DatabaseWorthTrying() || Volatile.Read(ref _disposed) != 0)
        {
            return known ? Live(entry.Warmth, now) : null;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ReadTimeout);
        try
        {
            await EnsureMigratedAsync(timeout.Token);
            await using var connection = await _database.OpenAsync(timeout.Token);
            await using var command = new NpgsqlCommand("SELECT model, prefix_tokens, expires_at FROM prompt_cache_warm WHERE session_id = $1 AND expires_at > $2;", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = sessionId });
            command.Parameters.Add(new NpgsqlParameter { Value = SqliteLedgerSchema.ToStoredTimestamp(now) });
            PromptCacheWarmth? warmth = null;
            await using (var reader = await command.ExecuteReaderAsync(timeout.Token))
            {
                if (await reader.ReadAsync(timeout.Token))
                {
                    warmth = new PromptCacheWarmth(reader.GetString(0), reader.GetInt64(1), SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(2)));
                }
            }

            Recovered();
            var read = new LocalEntry(warmth, now, Pending: false);
            var kept = _local.AddOrUpdate(sessionId, read, (_, current) => current.Pending ? current : read);
            return kept.Pending ? Live(kept.Warmth, now) : warmth;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception exception) when (IsOutage(exception))
        {
            Failed(exception);
            return known ? Live(entry.Warmth, now) : null;
        }
    }

    /// <inheritdoc />
    /// <remarks>Returns at once: the row is written by the background writer (see <see cref="FlushAsync"/>).</remarks>
    public ValueTask SetAsync(string sessionId, PromptCacheWarmth warmth, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        ArgumentNullException.ThrowIfNull(warmth);
        _local[sessionId] = new LocalEntry(warmth, _time.GetUtcNow(), Pending: true);
        _writes.Writer.TryWrite(new Write(sessionId, warmth, null));
        return ValueTask.CompletedTask;
    }

    /// <summary>Waits until every write queued before this call has been sent to the database (or dropped because it could not be reached).</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_writes.Writer.TryWrite(new Write(null, null, done)))
        {
            return Task.CompletedTask;
        }

        return done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Deletes the rows (and local entries) whose warmth has expired at <paramref name="now"/>; done periodically on its own.</summary>
    /// <returns>How many rows were deleted.</returns>
    public Task<int> PruneAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return PruneCoreAsync(now, cancellationToken);
    }

    /// <summary>Sends the queued writes, stops the background work and closes the pooled connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _writes.Writer.TryComplete();
        await _stop.CancelAsync();
        await Task.WhenAll(_writer, _pruner);
        _pruneTimer.Dispose();
        _stop.Dispose();
        await _database.DisposeAsync();
    }

    private static PromptCacheWarmth? Live(PromptCacheWarmth? warmth, DateTimeOffset now) => warmth is not null && warmth.ExpiresAt > now ? warmth : null;

    // The store is advisory: whatever keeps the database from answering (network, server, timeout, a schema written by
    // a newer ModelMix) degrades it to local state rather than failing a request.
    private static bool IsOutage(Exception exception) => exception is not OutOfMemoryException;

    private bool DatabaseWorthTrying() => Volatile.Read(ref _failing) == 0 || _time.GetTimestamp() >= Interlocked.Read(ref _retryAt);

    private async Task EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        await _migrations.EnsureMigratedAsync(cancellationToken);
    }

    private void Failed(Exception exception)
    {
        Interlocked.Exchange(ref _retryAt, _time.GetTimestamp() + (long)(_options.RetryAfterFailure.TotalSeconds * _time.TimestampFrequency));
        if (Interlocked.Exchange(ref _failing, 1) == 0)
        {
            Unreachable(_logger, _database.Display, exception.GetType().Name, _options.RetryAfterFailure);
        }
    }

    private void Recovered()
    {
        if (Interlocked.Exchange(ref _failing, 0) != 0)
        {
            Reachable(_logger, _database.Display);
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _writes.Reader;
        var batch = new Dictionary<string, PromptCacheWarmth>(StringComparer.Ordinal);
        var flushes = new List<TaskCompletionSource>();
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < MaxBatch && reader.TryRead(out var write))
            {
                if (write.Flushed is { } flushed)
                {
                    flushes.Add(flushed);
                    break;
                }

                batch[write.SessionId!] = write.Warmth!;
            }

            if (batch.Count > 0)
            {
                await UpsertAsync(batch);
                batch.Clear();
            }

            foreach (var flushed in flushes)
            {
                flushed.TrySetResult();
            }

            flushes.Clear();
        }
    }

    private async Task UpsertAsync(Dictionary<string, PromptCacheWarmth> batch)
    {
        if (!DatabaseWorthTrying())
        {
            return; // the local copy has it; the database is tried again after RetryAfterFailure
        }

        var sessions = new string[batch.Count];
        var models = new string[batch.Count];
        var prefixes = new long[batch.Count];
        var expiries = new long[batch.Count];
        var i = 0;
        foreach (var (session, warmth) in batch)
        {
            sessions[i] = session;
            models[i] = warmth.Model;
            prefixes[i] = warmth.PrefixTokens;
            expiries[i] = SqliteLedgerSchema.ToStoredTimestamp(warmth.ExpiresAt);
            i++;
        }

        try
        {
            using var timeout = new CancellationTokenSource(_options.ReadTimeout * 5);
            await EnsureMigratedAsync(timeout.Token);
            await using var connection = await _database.OpenAsync(timeout.Token);
            await using var command = new NpgsqlCommand(
                "INSERT INTO prompt_cache_warm (session_id, model, prefix_tokens, expires_at) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) " +
                "ON CONFLICT (session_id) DO UPDATE SET model = excluded.model, prefix_tokens = excluded.prefix_tokens, expires_at = excluded.expires_at;",
                connection);
            command.Parameters.Add(new NpgsqlParameter { Value = sessions });
            command.Parameters.Add(new NpgsqlParameter { Value = models });
            command.Parameters.Add(new NpgsqlParameter { Value = prefixes });
            command.Parameters.Add(new NpgsqlParameter { Value = expiries });
            await command.ExecuteNonQueryAsync(timeout.Token);
            Recovered();
            foreach (var (session, warmth) in batch)
            {
                // In the database now: later reads may go there (unless the session was written again meanwhile).
                if (_local.TryGetValue(session, out var entry) && entry.Pending && ReferenceEquals(entry.Warmth, warmth))
                {
                    _local.TryUpdate(session, entry with { Pending = false }, entry);
                }
            }
        }
        catch (Exception exception) when (IsOutage(exception))
        {
            Failed(exception);
        }
    }

    private async Task PruneLoopAsync()
    {
        try
        {
            while (await _pruneTimer.WaitForNextTickAsync(_stop.Token))
            {
                if (!DatabaseWorthTrying())
                {
                    PruneLocal(_time.GetUtcNow());
                    continue;
                }

                try
                {
                    await PruneCoreAsync(_time.GetUtcNow(), _stop.Token);
                    Recovered();
                }
                catch (Exception exception) when (IsOutage(exception) && !_stop.IsCancellationRequested)
                {
                    Failed(exception);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    private async Task<int> PruneCoreAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        PruneLocal(now);
        await EnsureMigratedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("DELETE FROM prompt_cache_warm WHERE expires_at <= $1;", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = SqliteLedgerSchema.ToStoredTimestamp(now) });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private void PruneLocal(DateTimeOffset now)
    {
        foreach (var (session, entry) in _local)
        {
            // Live warmth stays (it answers while the database is away); misses and expired warmth go once stale.
            if (Live(entry.Warmth, now) is null && now - entry.FetchedAt >= _options.LocalCacheTtl)
            {
                _local.TryRemove(new KeyValuePair<string, LocalEntry>(session, entry));
            }
        }
    }

    [LoggerMessage(9520, LogLevel.Warning, "The shared cache-warm store in {Database} could not be reached ({Error}): cache-aware routing uses this replica's own knowledge and tries the database again in {Retry}.")]
    private static partial void Unreachable(ILogger logger, string database, string error, TimeSpan retry);

    [LoggerMessage(9521, LogLevel.Information, "The shared cache-warm store in {Database} is reachable again.")]
    private static partial void Reachable(ILogger logger, string database);

    /// <summary>What this replica knows of a session: read from the database at <paramref name="FetchedAt"/>, or written here (<paramref name="Pending"/> until the writer has stored it).</summary>
    private readonly record struct LocalEntry(PromptCacheWarmth? Warmth, DateTimeOffset FetchedAt, bool Pending);

    private sealed record Write(string? SessionId, PromptCacheWarmth? Warmth, TaskCompletionSource? Flushed);
}
