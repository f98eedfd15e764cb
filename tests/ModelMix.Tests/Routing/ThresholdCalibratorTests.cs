using ModelMix.Routing;

namespace ModelMix.Tests.Routing;

public sealed class ThresholdCalibratorTests
{
    private static readonly double[] s_confidences = [0.95, 0.12, 0.66, 0.81, 0.40, 0.73, 0.99, 0.55, 0.30, 0.88];

    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.1, 0.1)]
    [InlineData(0.3, 0.3)]
    [InlineData(0.5, 0.5)]
    [InlineData(0.78, 0.8)]
    [InlineData(1.0, 1.0)]
    public void Threshold_escalates_the_target_share(double target, double achieved)
    {
        var threshold = ThresholdCalibrator.ForTargetEscalationRate(s_confidences, target);

        Assert.Equal(achieved, ThresholdCalibrator.EscalationRate(s_confidences, threshold), 10);
    }

    [Fact]
    public void Threshold_sits_midway_between_neighbours()
    {
        // Sorted: 0.12 0.30 0.40 0.55 0.66 ... ; 30% → 3 below → between 0.40 and 0.55.
        Assert.Equal(0.475, ThresholdCalibrator.ForTargetEscalationRate(s_confidences, 0.3), 12);
    }

    [Fact]
    public void Threshold_is_the_p_quantile_on_many_values()
    {
        var values = Enumerable.Range(0, 10_000).Select(i => ((i * 7919) % 10_000) / 10_000.0).ToArray();

        var threshold = ThresholdCalibrator.ForTargetEscalationRate(values, 0.2);

        Assert.InRange(threshold, 0.1999, 0.2001);
        Assert.Equal(0.2, ThresholdCalibrator.EscalationRate(values, threshold), 4);
    }

    [Fact]
    public void Ties_at_the_boundary_can_only_lower_the_rate()
    {
        double[] values = [0.5, 0.5, 0.5, 0.5, 0.9];

        var threshold = ThresholdCalibrator.ForTargetEscalationRate(values, 0.4);

        Assert.Equal(0.5, threshold);
        Assert.Equal(0.0, ThresholdCalibrator.EscalationRate(values, threshold));
    }

    [Fact]
    public void Result_does_not_depend_on_input_order()
    {
        var reversed = s_confidences.Reverse().ToArray();

        Assert.Equal(
            ThresholdCalibrator.ForTargetEscalationRate(s_confidences, 0.25),
            ThresholdCalibrator.ForTargetEscalationRate(reversed, 0.25));
    }

    [Fact]
    public void Bad_inputs_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => ThresholdCalibrator.ForTargetEscalationRate([], 0.2));
        Assert.Throws<ArgumentException>(() => ThresholdCalibrator.ForTargetEscalationRate([0.5, double.NaN], 0.2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ThresholdCalibrator.ForTargetEscalationRate([0.5], 1.2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ThresholdCalibrator.ForTargetEscalationRate([0.5], double.NaN));
    }
}
