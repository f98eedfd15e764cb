namespace ModelMix.Ledger;

/// <summary>Retention runs in one process at a time: an exclusive lock on <c>DATABASE.retention-lock</c> beside the database.</summary>
public sealed partial class SqliteLedgerStore : ILedgerRetentionLock
{
    /// <inheritdoc />
    public Task<IAsyncDisposable?> TryLockRetentionAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            // FileShare.None is an exclusive lock other processes (and other opens in this one) are refused while it is held.
            var file = new FileStream(Path + ".retention-lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            return Task.FromResult<IAsyncDisposable?>(file);
        }
        catch (IOException)
        {
            return Task.FromResult<IAsyncDisposable?>(null);
        }
    }
}
