using System.Collections.Concurrent;

namespace ModelMix.Cooldowns;

/// <summary>Cooldowns of one process (the store that goes with the embedded SQLite file).</summary>
public sealed class InMemoryCooldownStore : ICooldownStore
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _until = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates an empty store.</summary>
    /// <param name="time">Unused (instants come from the caller); accepted so both stores are created alike.</param>
    public InMemoryCooldownStore(TimeProvider? time = null)
    {
        _ = time;
    }

    /// <inheritdoc />
    public Task MigrateAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    /// <inheritdoc />
    public Task CoolDownAsync(string model, DateTimeOffset until, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        _until.AddOrUpdate(model, until, (_, existing) => existing >= until ? existing : until);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, DateTimeOffset>> GetActiveAsync(DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        var active = new Dictionary<string, DateTimeOffset>(StringComparer.OrdinalIgnoreCase);
        foreach (var (model, until) in _until)
        {
            if (until > at)
            {
                active[model] = until;
            }
            else
            {
                _until.TryRemove(new KeyValuePair<string, DateTimeOffset>(model, until));
            }
        }

        return Task.FromResult<IReadOnlyDictionary<string, DateTimeOffset>>(active);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
