using Microsoft.Extensions.Logging;

namespace ModelMix.Tests.Ledger;

/// <summary>Keeps every log entry so a test can assert what was logged.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly Lock _lock = new();
    private readonly List<(LogLevel Level, EventId Event, string Message, Exception? Exception)> _entries = [];

    public IReadOnlyList<(LogLevel Level, EventId Event, string Message, Exception? Exception)> Entries
    {
        get
        {
            lock (_lock)
            {
                return _entries.ToList();
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lock)
        {
            _entries.Add((logLevel, eventId, formatter(state, exception), exception));
        }
    }
}
