namespace FakeAnthropic;

/// <summary>
/// For the standalone server (load and soak scripts): keeps the reply script topped up so that a given share of
/// answers, picked at random, is a fault; the rest are the default answer.
/// </summary>
internal static class FaultFeeder
{
    /// <summary>Feeds the script until cancelled.</summary>
    public static async Task RunAsync(FakeAnthropicServer server, double share, int seed, TimeSpan delay, TimeSpan eventDelay, CancellationToken cancellationToken)
    {
        var random = new Random(seed);
        FakeReply[] faults =
        [
            FakeReply.RateLimited(TimeSpan.FromSeconds(1)),
            FakeReply.Overloaded(),
            FakeReply.ServerError(),
            FakeReply.Default.WithDropConnection(),
            FakeReply.Default.WithMalformedBody(),
            FakeReply.Stream().WithCutAfterEvents(3),
            FakeReply.Stream("streaming/error-midstream.sse"),
            FakeReply.Message().WithCutBodyAfterBytes(40),
        ];
        var normal = FakeReply.Default.WithDelay(delay).WithEventDelay(eventDelay);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                while (server.PendingReplies < 200)
                {
                    server.Enqueue(random.NextDouble() < share ? faults[random.Next(faults.Length)].WithDelay(delay) : normal);
                }

                await Task.Delay(5, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
