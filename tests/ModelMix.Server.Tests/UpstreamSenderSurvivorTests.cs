using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Ledger;

namespace ModelMix.Server.Tests;

/// <summary>
/// The retry spans of <see cref="UpstreamSender"/> that <see cref="UpstreamSenderTests"/> and the retry-after
/// integration tests leave open (written from the twelfth session's <c>proxy-retry</c> mutation run, docs/testing.md):
/// the attempt numbers with and without a retry pipeline, a timed-out attempt retried, a client that left before or
/// during an attempt or its back-off, and the back-off's jitter.
/// </summary>
/// <remarks>
/// Most tests build their own sender over the harness's real services, with an upstream handler and a clock of their
/// own (<see cref="Upstream"/>, <see cref="RecordingClock"/>): the harness's scripted upstream cannot cancel the client
/// mid-attempt or wait for a timeout, and the retry's back-off is read from the timers it arms, never waited out.
/// </remarks>
public sealed class UpstreamSenderSurvivorTests
{
    private const string Haiku = "claude-haiku-4-5";

    /// <summary>A bound on real waits for conditions, never a measurement.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>ModelMix:RetryBaseDelay</c> where a test reads the back-off off <see cref="RecordingClock"/>: 1 s, not the
    /// harness's 1 ms, whose jittered draw is often under a millisecond, a wait <c>Task.Delay</c> arms no timer for.
    /// </summary>
    private const string SecondBackOff = "00:00:01";

    [Fact]
    public async Task Without_retries_the_attempt_is_numbered_on_from_the_requests_earlier_ones()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?> { ["ModelMix:Fallback:MaxRetriesPerModel"] = "0" });
        proxy.Upstream.Answer(HttpStatusCode.OK, Wire.Message(Haiku));
        var call = NewCall(proxy, "req_third");
        var attempts = new StrongBox<int>(2); // two attempts of this request went to other models before (a fallback)

        using var result = await proxy.Get<UpstreamSender>().SendAsync(call, attempts);

        Assert.Equal(200, result.Status);
        Assert.Equal(3, result.Attempt);
        Assert.Equal(3, attempts.Value);
        Assert.Equal(3, Assert.Single(await proxy.RecordsAsync("req_third")).Attempt);
    }

    [Fact]
    public async Task With_retries_every_attempt_is_numbered_on_from_the_requests_earlier_ones()
    {
        await using var proxy = await ProxyHarness.StartAsync();
        proxy.Upstream.Answer((HttpStatusCode)529, Wire.Error("overloaded_error", "Overloaded"));
        proxy.Upstream.Answer(HttpStatusCode.OK, Wire.Message(Haiku));
        var call = NewCall(proxy, "req_later");
        var attempts = new StrongBox<int>(4);

        using var result = await proxy.Get<UpstreamSender>().SendAsync(call, attempts);

        Assert.Equal(200, result.Status);
        Assert.Equal(6, result.Attempt);
        Assert.Equal(6, attempts.Value);
        Assert.Equal([5, 6], (await proxy.RecordsAsync("req_later")).Select(record => record.Attempt));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("2")]
    public async Task A_client_that_left_before_the_first_attempt_gets_no_upstream_call(string maxRetriesPerModel)
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?> { ["ModelMix:Fallback:MaxRetriesPerModel"] = maxRetriesPerModel });
        // Nothing scripted: a call upstream would fail the scripted handler's own assertion.
        var call = NewCall(proxy, "req_gone", new CancellationToken(canceled: true));
        var attempts = new StrongBox<int>(0);

        await Assert.ThrowsAsync<OperationCanceledException>(() => proxy.Get<UpstreamSender>().SendAsync(call, attempts));

        Assert.Empty(proxy.Upstream.Seen);
        Assert.Equal(0, attempts.Value);
        Assert.Empty(await proxy.RecordsAsync("req_gone"));
    }

    [Fact]
    public async Task A_timed_out_attempt_is_retried_on_the_same_model_and_both_attempts_are_recorded()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?>
        {
            ["ModelMix:UpstreamTimeout"] = "00:00:00.300",
            ["ModelMix:RetryBaseDelay"] = SecondBackOff,
        });
        var upstream = new Upstream();
        upstream.Then(async cancellation =>
        {
            await Task.Delay(Timeout.Infinite, cancellation); // ends only when the attempt's 300 ms timeout cancels it
            throw new UnreachableException();
        });
        upstream.Then(_ => Task.FromResult(Upstream.Json(HttpStatusCode.OK, Wire.Message(Haiku))));
        var clock = new RecordingClock();
        using var sender = NewSender(proxy, upstream, clock);
        var call = NewCall(proxy, "req_timeout");
        var attempts = new StrongBox<int>(0);

        using var result = await sender.SendAsync(call, attempts);

        Assert.Equal(200, result.Status);
        Assert.Equal(2, attempts.Value);
        Assert.Equal(2, upstream.Calls);
        Assert.Single(clock.Waits); // one back-off between the two attempts
        var records = await proxy.RecordsAsync("req_timeout");
        Assert.Equal(2, records.Count);
        Assert.Equal((LedgerStatus.Failed, "upstream_timeout"), (records[0].Status, records[0].ErrorType));
        Assert.Equal(LedgerStatus.Ok, records[1].Status);
    }

    [Fact]
    public async Task The_last_timed_out_attempt_surfaces_as_an_upstream_timeout()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?>
        {
            ["ModelMix:UpstreamTimeout"] = "00:00:00.300",
            ["ModelMix:RetryBaseDelay"] = SecondBackOff,
            ["ModelMix:Fallback:MaxRetriesPerModel"] = "1",
        });
        var upstream = new Upstream();
        for (var i = 0; i < 2; i++)
        {
            upstream.Then(async cancellation =>
            {
                await Task.Delay(Timeout.Infinite, cancellation);
                throw new UnreachableException();
            });
        }

        using var sender = NewSender(proxy, upstream, new RecordingClock());
        var call = NewCall(proxy, "req_timeouts");
        var attempts = new StrongBox<int>(0);

        await Assert.ThrowsAsync<UpstreamTimeoutException>(() => sender.SendAsync(call, attempts));

        Assert.Equal(2, attempts.Value);
        Assert.Equal(2, upstream.Calls);
        Assert.All(await proxy.RecordsAsync("req_timeouts"), record => Assert.Equal("upstream_timeout", record.ErrorType));
    }

    [Fact]
    public async Task A_retryable_answer_for_a_client_that_left_during_the_attempt_is_returned_without_a_retry()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?> { ["ModelMix:RetryBaseDelay"] = SecondBackOff });
        using var client = new CancellationTokenSource();
        var upstream = new Upstream();
        upstream.Then(_ =>
        {
            client.Cancel(); // the client hangs up while the upstream is answering
            return Task.FromResult(Overloaded());
        });
        var clock = new RecordingClock();
        using var sender = NewSender(proxy, upstream, clock);
        var call = NewCall(proxy, "req_left", client.Token);
        var attempts = new StrongBox<int>(0);

        // The attempt that ran is the request's outcome (recorded, relayed if anyone listens); nothing more is started.
        using var result = await sender.SendAsync(call, attempts);

        Assert.Equal(529, result.Status);
        Assert.Equal(1, result.Attempt);
        Assert.Equal(1, attempts.Value);
        Assert.Equal(1, upstream.Calls);
        Assert.Empty(clock.Waits);
        Assert.Equal("overloaded_error", Assert.Single(await proxy.RecordsAsync("req_left")).ErrorType);
    }

    [Fact]
    public async Task An_unreachable_upstream_for_a_client_that_left_during_the_attempt_throws_its_error_without_a_retry()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?> { ["ModelMix:RetryBaseDelay"] = SecondBackOff });
        using var client = new CancellationTokenSource();
        var upstream = new Upstream();
        upstream.Then(_ =>
        {
            client.Cancel();
            throw new HttpRequestException("connection refused (scripted)");
        });
        var clock = new RecordingClock();
        using var sender = NewSender(proxy, upstream, clock);
        var call = NewCall(proxy, "req_left_unreachable", client.Token);
        var attempts = new StrongBox<int>(0);

        // The connection error itself (the caller answers 502 or moves on), not a cancellation from a retry never made.
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => sender.SendAsync(call, attempts));

        Assert.Equal("connection refused (scripted)", error.Message);
        Assert.Equal(1, attempts.Value);
        Assert.Equal(1, upstream.Calls);
        Assert.Empty(clock.Waits);
        Assert.Equal("upstream_unreachable", Assert.Single(await proxy.RecordsAsync("req_left_unreachable")).ErrorType);
    }

    [Fact]
    public async Task A_client_that_leaves_during_the_back_off_gets_no_further_attempt_and_the_send_ends_cancelled()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?> { ["ModelMix:RetryBaseDelay"] = SecondBackOff });
        using var client = new CancellationTokenSource();
        var upstream = new Upstream(); // one answer only: a second attempt would fail the handler's assertion
        upstream.Then(_ => Task.FromResult(Overloaded()));
        var clock = new RecordingClock(holdTimers: true);
        using var sender = NewSender(proxy, upstream, clock);
        var call = NewCall(proxy, "req_left_waiting", client.Token);
        var attempts = new StrongBox<int>(0);

        var sending = sender.SendAsync(call, attempts);
        await clock.Armed.WaitAsync(Patience); // the back-off is armed, and never fires on its own here
        client.Cancel();

        // The caller sees the cancellation (and ends the request as a client that left), not a result to relay.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sending.WaitAsync(Patience));
        Assert.Equal(1, attempts.Value);
        Assert.Equal(1, upstream.Calls);
        Assert.Equal("overloaded_error", Assert.Single(await proxy.RecordsAsync("req_left_waiting")).ErrorType);
    }

    [Fact]
    public async Task The_back_off_without_a_retry_after_is_jittered()
    {
        // RetryBaseDelay 1 s, no retry-after: without jitter every first back-off would be exactly 1 s (Polly's
        // exponential back-off, attempt 0: 1 s × 2⁰); with it each is drawn at random below MaxRetryDelay (20 s).
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?>
        {
            ["ModelMix:RetryBaseDelay"] = SecondBackOff,
            ["ModelMix:MaxRetryDelay"] = "00:00:20",
            ["ModelMix:Fallback:MaxRetriesPerModel"] = "1",
        });
        const int Requests = 4;
        var upstream = new Upstream();
        for (var i = 0; i < Requests; i++)
        {
            upstream.Then(_ => Task.FromResult(Overloaded()));
            upstream.Then(_ => Task.FromResult(Upstream.Json(HttpStatusCode.OK, Wire.Message(Haiku))));
        }

        var clock = new RecordingClock();
        using var sender = NewSender(proxy, upstream, clock);
        for (var i = 0; i < Requests; i++)
        {
            var call = NewCall(proxy, $"req_jitter_{i}");
            using var result = await sender.SendAsync(call, new StrongBox<int>(0));
            Assert.Equal(200, result.Status);
        }

        var waits = clock.Waits.ToList();
        Assert.Equal(Requests, waits.Count);
        Assert.All(waits, wait => Assert.InRange(wait, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(20)));
        Assert.True(waits.Distinct().Count() > 1, $"{Requests} back-offs all of {waits[0]}: not jittered");
    }

    [Theory]
    [InlineData(2, 2)] // 12:00:02 on a clock at 12:00:00: a 2 s wait, within MaxRetryDelay (20 s)
    [InlineData(-1, 0)] // 11:59:59, already past: retried at once, no timer armed (not the 1 s back-off either)
    public async Task A_retry_after_date_is_waited_until_on_the_senders_clock(int dateInSeconds, int waitInSeconds)
    {
        // The HTTP-date form of retry-after (RFC 9110 §10.2.3) is the date less the sender's clock, never negative.
        // The run could not score these lines (all seven of ParseRetryAfter's mutants were reported as compile errors).
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?> { ["ModelMix:RetryBaseDelay"] = SecondBackOff });
        var now = new DateTimeOffset(2026, 11, 10, 12, 0, 0, TimeSpan.Zero); // inside the catalog's price periods
        var upstream = new Upstream();
        upstream.Then(_ =>
        {
            var limited = Upstream.Json(HttpStatusCode.TooManyRequests, Wire.Error("rate_limit_error", "Rate limited"));
            limited.Headers.RetryAfter = new RetryConditionHeaderValue(now.AddSeconds(dateInSeconds));
            return Task.FromResult(limited);
        });
        upstream.Then(_ => Task.FromResult(Upstream.Json(HttpStatusCode.OK, Wire.Message(Haiku))));
        var clock = new RecordingClock(now: now);
        using var sender = NewSender(proxy, upstream, clock);
        var call = NewCall(proxy, "req_date");

        using var result = await sender.SendAsync(call, new StrongBox<int>(0));

        Assert.Equal(200, result.Status);
        Assert.Equal(2, upstream.Calls);
        TimeSpan[] expected = waitInSeconds == 0 ? [] : [TimeSpan.FromSeconds(waitInSeconds)];
        Assert.Equal(expected, clock.Waits);
    }

    /// <summary>A call of request <paramref name="requestId"/> to Haiku, its client watched through <paramref name="client"/>.</summary>
    private static CallContext NewCall(ProxyHarness proxy, string requestId, CancellationToken client = default)
    {
        var body = Wire.Request(Haiku);
        var context = proxy.NewContext(body);
        context.RequestAborted = client;
        return proxy.NewCall(context, body, Haiku, out _, requestId: requestId);
    }

    private static HttpResponseMessage Overloaded() => Upstream.Json((HttpStatusCode)529, Wire.Error("overloaded_error", "Overloaded"));

    private static UpstreamSender NewSender(ProxyHarness proxy, HttpMessageHandler upstream, TimeProvider time) =>
        new(
            new OneHandler(upstream),
            proxy.Get<IOptions<ProxyOptions>>(),
            proxy.Get<AttemptLedger>(),
            proxy.Get<ProxyFallback>(),
            proxy.Get<ProxyCooldowns>(),
            proxy.Get<ProxyIntents>(),
            time,
            proxy.Get<ILogger<MessagesForwarder>>());

    private sealed class OneHandler(HttpMessageHandler handler) : IHttpMessageHandlerFactory
    {
        public HttpMessageHandler CreateHandler(string name) => handler;
    }

    /// <summary>An upstream whose answers are functions of the attempt's token: each call takes the next one.</summary>
    private sealed class Upstream : HttpMessageHandler
    {
        private readonly ConcurrentQueue<Func<CancellationToken, Task<HttpResponseMessage>>> _answers = new();
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public void Then(Func<CancellationToken, Task<HttpResponseMessage>> answer) => _answers.Enqueue(answer);

        public static HttpResponseMessage Json(HttpStatusCode status, string json) =>
            new(status) { Content = new StringContent(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json")) };

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            Assert.True(_answers.TryDequeue(out var answer), "the upstream was called more often than scripted");
            return answer(cancellationToken);
        }
    }

    /// <summary>
    /// The system clock (or a given instant, standing still), except that every timer is noted with its due time and
    /// fires at once (or, held, never): the retry pipeline's back-off (Polly waits through
    /// <c>Task.Delay(delay, timeProvider)</c>) is read, not waited out. Only the sender's retry pipeline arms timers on
    /// this clock here.
    /// </summary>
    private sealed class RecordingClock(bool holdTimers = false, DateTimeOffset? now = null) : TimeProvider
    {
        private readonly ConcurrentQueue<TimeSpan> _waits = new();
        private readonly TaskCompletionSource _armed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IReadOnlyCollection<TimeSpan> Waits => _waits;

        /// <summary>The system's time, or <c>now</c> standing still when one is given.</summary>
        public override DateTimeOffset GetUtcNow() => now ?? base.GetUtcNow();

        /// <summary>Completes when the first timer is armed.</summary>
        public Task Armed => _armed.Task;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                return System.CreateTimer(callback, state, dueTime, period);
            }

            _waits.Enqueue(dueTime);
            _armed.TrySetResult();
            // Held: the timer never fires (the wait ends only by its cancellation); otherwise at once.
            return System.CreateTimer(callback, state, holdTimers ? Timeout.InfiniteTimeSpan : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }
}
