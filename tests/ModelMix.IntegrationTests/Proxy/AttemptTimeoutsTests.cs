using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>The pooled per-attempt cancellation: the same behaviour as a linked source with a timeout, and only clean sources reused.</summary>
public sealed class AttemptTimeoutsTests
{
    [Fact]
    public async Task The_token_is_cancelled_when_the_time_is_up()
    {
        var timeouts = new AttemptTimeouts();
        using var attempt = timeouts.Start(TimeSpan.FromMilliseconds(50), CancellationToken.None);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Delay(TimeSpan.FromSeconds(30), attempt.Token));
    }

    [Fact]
    public void The_token_is_cancelled_when_the_client_goes_away_and_at_once_if_it_already_has()
    {
        var timeouts = new AttemptTimeouts();
        using var client = new CancellationTokenSource();
        using var attempt = timeouts.Start(TimeSpan.FromMinutes(10), client.Token);
        Assert.False(attempt.Token.IsCancellationRequested);

        client.Cancel();
        Assert.True(attempt.Token.IsCancellationRequested);

        using var late = timeouts.Start(TimeSpan.FromMinutes(10), client.Token);
        Assert.True(late.Token.IsCancellationRequested);
    }

    [Fact]
    public void A_source_never_cancelled_is_reused_and_a_cancelled_one_is_not()
    {
        var timeouts = new AttemptTimeouts();
        CancellationToken first;
        using (var attempt = timeouts.Start(TimeSpan.FromMinutes(10), CancellationToken.None))
        {
            first = attempt.Token;
        }

        Assert.Equal(1, timeouts.Pooled);
        using var client = new CancellationTokenSource();
        using (var attempt = timeouts.Start(TimeSpan.FromMinutes(10), client.Token))
        {
            Assert.Equal(first, attempt.Token); // the same source, reset: its timer stopped, not cancelled
            Assert.False(attempt.Token.IsCancellationRequested);
            Assert.Equal(0, timeouts.Pooled);
            client.Cancel();
        }

        Assert.Equal(0, timeouts.Pooled); // cancelled: disposed, never handed out again
        using var next = timeouts.Start(TimeSpan.FromMinutes(10), CancellationToken.None);
        Assert.NotEqual(first, next.Token);
        Assert.False(next.Token.IsCancellationRequested);
    }

    [Fact]
    public void A_returned_source_no_longer_follows_the_client_it_was_linked_to()
    {
        var timeouts = new AttemptTimeouts();
        using var client = new CancellationTokenSource();
        CancellationToken first;
        using (var attempt = timeouts.Start(TimeSpan.FromMinutes(10), client.Token))
        {
            first = attempt.Token;
        }

        using var reused = timeouts.Start(TimeSpan.FromMinutes(10), CancellationToken.None);
        Assert.Equal(first, reused.Token);
        client.Cancel();
        Assert.False(reused.Token.IsCancellationRequested);
    }

    [Fact]
    public void The_pool_keeps_at_most_its_limit()
    {
        var timeouts = new AttemptTimeouts(maxPooled: 2);
        var attempts = Enumerable.Range(0, 5).Select(_ => timeouts.Start(TimeSpan.FromMinutes(10), CancellationToken.None)).ToList();
        foreach (var attempt in attempts)
        {
            attempt.Dispose();
        }

        Assert.Equal(2, timeouts.Pooled);
    }
}
