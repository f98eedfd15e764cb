namespace ModelMix.Tests.Ledger;

/// <summary>Waits for something a background writer does after the signal a test can await (a log entry, a row).</summary>
internal static class Poll
{
    /// <summary>Reads <paramref name="read"/> every 10 ms until it gives a value; fails once <paramref name="patience"/> is spent.</summary>
    public static async Task<T> UntilAsync<T>(Func<T?> read, TimeSpan patience)
        where T : class
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            if (read() is { } value)
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, "nothing arrived before the deadline");
            await Task.Delay(10);
        }
    }
}
