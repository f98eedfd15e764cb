using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Ledger;

namespace ModelMix.Hosting;

/// <summary>
/// The ledger <c>AddModelMix</c> registers: a hosted service that opens and migrates the store when the host starts,
/// and at a normal stop commits every buffered record and closes it — so a normal stop loses nothing, and a
/// <c>kill -9</c> at most what was recorded in the last <see cref="LedgerOptions.FlushInterval"/>. It is the
/// <see cref="ILedger"/> of the container: stages built before the host starts hold it and record once it is open.
/// </summary>
internal sealed class HostedLedger(IOptions<ModelMixOptions> settings, IOptions<LedgerOptions> ledgerOptions, TimeProvider time, ILoggerFactory? loggers) : ILedger, IHostedService, IDisposable
{
    private readonly TaskCompletionSource<BufferedLedger> _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _starting;

    /// <inheritdoc />
    public ILedgerStore Store => Open.Store;

    private BufferedLedger Open => _opened.Task.IsCompletedSuccessfully
        ? _opened.Task.Result
        : throw new InvalidOperationException(
            "The ModelMix ledger is opened when the host starts (IHost.StartAsync or Run); nothing can be recorded or read before that.");

    /// <summary>Opens and migrates the store named by <c>ModelMix:Store</c> (or <c>ModelMix:Db</c>).</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _starting = true;
        try
        {
            var ledger = await BufferedLedger.OpenAsync(settings.Value.StoreSetting, ledgerOptions.Value, time, loggers, cancellationToken).ConfigureAwait(false);
            _opened.TrySetResult(ledger);
        }
        catch (Exception exception)
        {
            _opened.TrySetException(exception);
            throw;
        }
    }

    /// <summary>Commits every buffered record and closes the store.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_opened.Task.IsCompletedSuccessfully)
        {
            var ledger = _opened.Task.Result;
            await ledger.FlushBeforeStopAsync(cancellationToken).ConfigureAwait(false);
            await ledger.DisposeAsync().ConfigureAwait(false); // one StopTimeout in all with the flush
        }
    }

    /// <inheritdoc />
    public async ValueTask RecordAsync(LedgerRecord record, CancellationToken ct = default)
    {
        // A call made while the host is starting waits for the store to open; before the start it fails plainly.
        var ledger = _opened.Task.IsCompletedSuccessfully ? _opened.Task.Result
            : _starting ? await _opened.Task.WaitAsync(ct).ConfigureAwait(false)
            : Open;
        await ledger.RecordAsync(record, ct).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task FlushAsync(CancellationToken ct = default) => Open.FlushAsync(ct);

    /// <inheritdoc />
    public IAsyncEnumerable<LedgerRecord> ReadAsync(LedgerQuery query, CancellationToken ct = default) => Open.ReadAsync(query, ct);

    /// <inheritdoc />
    public Task<LedgerTotals> GetTotalsAsync(LedgerQuery query, CancellationToken ct = default) => Open.GetTotalsAsync(query, ct);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_opened.Task.IsCompletedSuccessfully)
        {
            await _opened.Task.Result.DisposeAsync().ConfigureAwait(false); // idempotent: a stopped ledger is already closed
        }
    }

    /// <summary>
    /// For a container disposed synchronously (<c>ServiceProvider.Dispose</c>), which refuses services that can only be
    /// disposed asynchronously: commits what is buffered and closes the store, waiting for it.
    /// </summary>
    public void Dispose()
    {
        if (_opened.Task.IsCompletedSuccessfully)
        {
            _opened.Task.Result.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
