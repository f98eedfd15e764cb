using Microsoft.Data.Sqlite;
using ModelMix.Threading;

namespace ModelMix.Budgets;

/// <summary>
/// The one write connection of a SQLite-backed store and the lock around it: writers take turns (SQLite allows one
/// writer per file anyway, and the connection is not thread-safe), the connection opens on first use, and disposing
/// closes it once every writer is done. Entering always continues on a thread-pool thread (<see cref="IoThreads"/>),
/// so a store's synchronous SQLite work never runs on a socket event thread.
/// </summary>
internal sealed class SqliteWriterGate : IAsyncDisposable
{
    private readonly SqliteStoreFile _file;
    private readonly string _owner;
    private readonly Action<SqliteConnection>? _opened;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private SqliteConnection? _writer;
    private bool _disposed;

    /// <param name="file">The store's file.</param>
    /// <param name="owner">The store's type name, for <see cref="ObjectDisposedException"/>.</param>
    /// <param name="opened">Runs once on the write connection when it opens (e.g. to register SQL functions its writes need).</param>
    public SqliteWriterGate(SqliteStoreFile file, string owner, Action<SqliteConnection>? opened = null)
    {
        _file = file;
        _owner = owner;
        _opened = opened;
    }

    /// <summary>Waits for the write lock (off any I/O thread); dispose the lease to let the next writer in.</summary>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    public async ValueTask<Lease> EnterAsync(CancellationToken cancellationToken)
    {
        await IoThreads.LeaveAsync();
        await _lock.WaitAsync(cancellationToken);
        if (_disposed)
        {
            _lock.Release();
            throw new ObjectDisposedException(_owner);
        }

        return new Lease(this);
    }

    /// <summary>Closes the write connection after the current writer (if any) is done; later entries fail.</summary>
    public async ValueTask DisposeAsync()
    {
        await _lock.WaitAsync();
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_writer is not null)
            {
                await _writer.DisposeAsync();
                _writer = null;
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    private SqliteConnection Open()
    {
        var connection = _file.OpenWriter();
        try
        {
            _opened?.Invoke(connection);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Holds the write lock until disposed.</summary>
    internal readonly struct Lease : IDisposable
    {
        private readonly SqliteWriterGate _gate;

        public Lease(SqliteWriterGate gate) => _gate = gate;

        /// <summary>The write connection (opened, in WAL mode, on first use).</summary>
        public SqliteConnection Connection => _gate._writer ??= _gate.Open();

        public void Dispose() => _gate._lock.Release();
    }
}
