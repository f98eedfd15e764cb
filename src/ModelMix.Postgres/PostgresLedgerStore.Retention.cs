using ModelMix.Ledger;
using Npgsql;

namespace ModelMix.Postgres;

/// <summary>Retention runs on one replica at a time: a session advisory lock held on a connection of its own for the run.</summary>
public sealed partial class PostgresLedgerStore : ILedgerRetentionLock
{
    /// <summary>The advisory lock key of ledger retention ("MMXRETN" in ASCII).</summary>
    private const long RetentionLockKey = 0x4D4D585245544E;

    /// <inheritdoc />
    public async Task<IAsyncDisposable?> TryLockRetentionAsync(CancellationToken cancellationToken = default)
    {
        EnsureReadable();
        var connection = await _database.OpenAsync(cancellationToken);
        try
        {
            await using var command = new NpgsqlCommand($"SELECT pg_try_advisory_lock({RetentionLockKey});", connection);
            if (await command.ExecuteScalarAsync(cancellationToken) is true)
            {
                return new RetentionLock(connection);
            }
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }

        await connection.DisposeAsync();
        return null;
    }

    /// <summary>Releases the lock and returns its connection to the pool (closing a session releases its advisory locks anyway).</summary>
    private sealed class RetentionLock(NpgsqlConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var command = new NpgsqlCommand($"SELECT pg_advisory_unlock({RetentionLockKey});", connection);
                await command.ExecuteScalarAsync(CancellationToken.None);
            }
            catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException or TimeoutException)
            {
                // The session is gone, and its lock with it.
            }
            finally
            {
                await connection.DisposeAsync();
            }
        }
    }
}
