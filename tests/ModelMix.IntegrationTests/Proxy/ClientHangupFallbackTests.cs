using FakeAnthropic;
using Microsoft.Extensions.DependencyInjection;
using ModelMix.Ledger;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// The fallback step's client-gone exit (<c>FallbackSender</c>: a failed attempt whose client left ends the request
/// there). Written while marking the proxy-retry area's equivalent mutants (docs/testing.md): its
/// <c>(failed || overflow) &amp;&amp; watch.ClientGone</c> → <c>failed &amp;&amp; overflow</c> survived every test, because
/// the sender refuses to start another attempt for a client that left; what it still changes is that a failed answer
/// with nowhere to fall back to goes on to the relay and to the shadow step, which pays for a candidate call.
/// </summary>
public sealed partial class ClientHangupTests
{
    [Fact]
    public async Task A_request_whose_client_left_during_a_failed_attempt_ends_there_and_pays_for_no_shadow_call()
    {
        // Every request sampled for a shadow comparison; no retries and no chain: the one upstream call answers 529
        // after its client left.
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:Shadow:CandidateModel"] = "claude-sonnet-4-6";
            settings["ModelMix:Shadow:DefaultRate"] = "1";
            settings["ModelMix:Fallback:MaxRetriesPerModel"] = "0";
        });
        var release = new TaskCompletionSource();
        harness.Fake.SetDefault(FakeReply.Overloaded().WithHold(release.Task));
        using var http = Client(harness);

        await HangUpWhileHeldAsync(harness, http, [Post("v1/messages", stream: false)], release);
        await WaitUntilRequestsEndedAsync(harness);
        var shadow = harness.Services.GetRequiredService<ProxyShadow>();
        await shadow.Runner.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // The failed attempt is recorded; the request was sampled, but no shadow job was queued and no other call made.
        var record = Assert.Single(await WaitForRecordsAsync(harness, 1));
        Assert.Equal((LedgerStatus.Error, true), (record.Status, record.ClientDisconnected));
        var statistics = shadow.Statistics;
        Assert.Equal(1, statistics.Sampled);
        Assert.Equal(0, statistics.Compared + statistics.ShadowFailed + statistics.JudgeFailed + statistics.Skipped + statistics.Dropped + statistics.Errors);
        Assert.Equal(1, harness.Fake.MessageCount);
    }
}
