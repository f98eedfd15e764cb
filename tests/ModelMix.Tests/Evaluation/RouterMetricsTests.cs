using ModelMix.Evaluation;

namespace ModelMix.Tests.Evaluation;

public sealed class RouterMetricsTests
{
    [Fact]
    public void Apgr_and_cpt_match_a_hand_computed_sweep()
    {
        // weak = [0,0,1,1] (mean 0.5), strong = [1,1,1,0] (mean 0.75), gap 0.25.
        // Scores rank the prompts 0,1,2,3; sending the top k to the strong model gives quality sums 2,3,4,4,3:
        // points (share, quality) = (0,.5) (.25,.75) (.5,1) (.75,1) (1,.75) → PGR 0, 1, 2, 2, 1.
        // APGR = .25·(0+1)/2 + .25·(1+2)/2 + .25·(2+2)/2 + .25·(2+1)/2 = .125 + .375 + .5 + .375 = 1.375.
        // CPT(50%): PGR reaches .5 on the first segment at .25·(.5/1) = .125; CPT(80%) at .25·.8 = .2.
        var curve = RouterMetrics.Compute([0.9, 0.8, 0.1, 0.05], [0, 0, 1, 1], [1, 1, 1, 0]);

        Assert.Equal(5, curve.Points.Count);
        Assert.Equal(1.375, curve.Apgr!.Value, 9);
        Assert.Equal(0.125, curve.Cpt50!.Value, 9);
        Assert.Equal(0.2, curve.Cpt80!.Value, 9);
    }

    [Fact]
    public void Tied_scores_move_together_in_one_step()
    {
        // Same qualities, scores tied in pairs: points (0,.5) (.5,1) (1,.75) → PGR 0, 2, 1.
        // APGR = .5·(0+2)/2 + .5·(2+1)/2 = .5 + .75 = 1.25; CPT(50%) = .5·(.5/2) = .125; CPT(80%) = .5·(.8/2) = .2.
        var curve = RouterMetrics.Compute([0.5, 0.5, 0.1, 0.1], [0, 0, 1, 1], [1, 1, 1, 0]);

        Assert.Equal(3, curve.Points.Count);
        Assert.Equal(1.25, curve.Apgr!.Value, 9);
        Assert.Equal(0.125, curve.Cpt50!.Value, 9);
        Assert.Equal(0.2, curve.Cpt80!.Value, 9);
    }

    [Fact]
    public void A_random_router_has_apgr_one_half_and_cpt_equal_to_the_target()
    {
        // The straight line from (0, weak) to (1, strong): PGR(s) = s, area 1/2, CPT(x) = x.
        var curve = RouterMetrics.FromPoints([(0, 0.6), (1, 0.9)], 0.6, 0.9);

        Assert.Equal(0.5, curve.Apgr!.Value, 9);
        Assert.Equal(0.5, curve.Cpt50!.Value, 9);
        Assert.Equal(0.8, curve.Cpt80!.Value, 9);
    }

    [Fact]
    public void Metrics_are_null_when_both_models_score_the_same()
    {
        var curve = RouterMetrics.Compute([0.3, 0.7], [1, 0], [0, 1]);

        Assert.Null(curve.Apgr);
        Assert.Null(curve.Cpt50);
    }

    [Fact]
    public void Bootstrap_interval_holds_the_apgr_and_is_reproducible_by_seed()
    {
        // 200 prompts: the weak model fails the first 80; a router that ranks them first, with some noise.
        var weak = Enumerable.Range(0, 200).Select(i => i < 80 ? 0.0 : 1.0).ToArray();
        var strong = Enumerable.Repeat(1.0, 200).ToArray();
        var scores = Enumerable.Range(0, 200).Select(i => (i < 80 ? 1.0 : 0.0) + ((i * 37 % 101) / 60.0)).ToArray();

        var a = RouterMetrics.Bootstrap(scores, weak, strong, seed: 7)!;
        var b = RouterMetrics.Bootstrap(scores, weak, strong, seed: 7)!;
        var other = RouterMetrics.Bootstrap(scores, weak, strong, seed: 8)!;

        Assert.Equal(RouterMetrics.Compute(scores, weak, strong).Apgr!.Value, a.Apgr, 12);
        Assert.InRange(a.Apgr, a.Lower, a.Upper);
        Assert.True(a.Upper - a.Lower is > 0.01 and < 0.2, $"{a.Lower}–{a.Upper}");
        Assert.Equal(a, b);
        Assert.NotEqual(a.Lower, other.Lower);
        Assert.True(a.BeatsRandom);
        Assert.Equal(1000, a.Resamples);
    }

    [Fact]
    public void A_router_that_cannot_tell_prompts_apart_does_not_beat_random()
    {
        // Equal scores move together: one step from (0, 0) to (1, 1), APGR 1/2 on every draw.
        var weak = Enumerable.Range(0, 50).Select(i => i % 3 == 0 ? 0.0 : 1.0).ToArray();
        var interval = RouterMetrics.Bootstrap(Enumerable.Repeat(0.3, 50).ToArray(), weak, Enumerable.Repeat(1.0, 50).ToArray())!;

        Assert.Equal(0.5, interval.Apgr, 12);
        Assert.Equal(0.5, interval.Lower, 12);
        Assert.Equal(0.5, interval.Upper, 12);
        Assert.False(interval.BeatsRandom);
        Assert.Null(RouterMetrics.Bootstrap([0.3, 0.7], [1, 0], [0, 1]));
    }
}
