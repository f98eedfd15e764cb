using System.Runtime.CompilerServices;
using ModelMix.Ledger;

namespace ModelMix.Tests.Pipeline;

/// <summary>An in-memory <see cref="ILedger"/> that keeps what it is given (or fails, when told to).</summary>
internal sealed class RecordingLedger : ILedger
{
    private readonly Lock _lock = new();
    private readonly List<LedgerRecord> _records = [];

    public Exception? FailWith { get; set; }

    public IReadOnlyList<LedgerRecord> Records
    {
        get
        {
            lock (_lock)
            {
                return _records.ToList();
            }
        }
    }

    public ILedgerStore Store => throw new NotSupportedException();

    public ValueTask RecordAsync(LedgerRecord record, CancellationToken ct = default)
    {
        if (FailWith is { } failure)
        {
            return ValueTask.FromException(failure);
        }

        lock (_lock)
        {
            _records.Add(record);
        }

        return ValueTask.CompletedTask;
    }

    public Task FlushAsync(CancellationToken ct = default) => Task.CompletedTask;

    public async IAsyncEnumerable<LedgerRecord> ReadAsync(LedgerQuery query, [EnumeratorCancellation] CancellationToken ct = default)
    {
        await Task.Yield();
        foreach (var record in Records)
        {
            yield return record;
        }
    }

    public Task<LedgerTotals> GetTotalsAsync(LedgerQuery query, CancellationToken ct = default) => throw new NotSupportedException();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
