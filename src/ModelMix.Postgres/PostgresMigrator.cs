namespace ModelMix.Postgres;

/// <summary>
/// One store's component in a <see cref="PostgresDatabase"/>: its migrations run one call at a time in this process
/// (the database's advisory lock covers other replicas), explicitly or on the store's first use.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "The semaphore is only waited on asynchronously, so it never creates a wait handle to free; the stores never disposed it either, and a disposed one would fault a migration still in flight.")]
internal sealed class PostgresMigrator(PostgresDatabase database, string component, IReadOnlyList<string> migrations)
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private volatile bool _migrated;

    /// <summary>Brings the component to its latest version (a no-op in the database when it is already there).</summary>
    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            await database.MigrateAsync(component, migrations, cancellationToken);
            _migrated = true;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Migrates unless this store already has.</summary>
    public Task EnsureMigratedAsync(CancellationToken cancellationToken) => _migrated ? Task.CompletedTask : MigrateAsync(cancellationToken);
}
