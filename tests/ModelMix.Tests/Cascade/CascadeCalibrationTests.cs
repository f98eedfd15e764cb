using ModelMix.Pipeline;
using ModelMix.Routing;

namespace ModelMix.Tests.Cascade;

public sealed class CascadeCalibrationTests
{
    [Fact]
    public void Per_task_thresholds_hit_the_target_escalation_rate()
    {
        var calibration = new CascadeCalibration();
        for (var i = 0; i < 100; i++)
        {
            calibration.Record("extraction", i / 100.0);
            calibration.Record("legal", 0.5 + (i / 200.0));
        }

        var thresholds = calibration.TaskThresholds(targetEscalationRate: 0.2);

        Assert.Equal(0.2, ThresholdCalibrator.EscalationRate(calibration.Confidences("extraction"), thresholds["extraction"]), 3);
        Assert.Equal(0.2, ThresholdCalibrator.EscalationRate(calibration.Confidences("LEGAL"), thresholds["legal"]), 3);
        Assert.True(thresholds["legal"] > thresholds["extraction"]);
    }

    [Fact]
    public void Tasks_with_too_few_samples_get_no_threshold()
    {
        var calibration = new CascadeCalibration();
        calibration.Record("rare", 0.4);

        Assert.Empty(calibration.TaskThresholds(0.1, minSamples: 2));
        Assert.Null(calibration.OverallThreshold(0.1, minSamples: 2));
    }

    [Fact]
    public void ApplyTo_sets_the_default_and_per_task_thresholds()
    {
        var calibration = new CascadeCalibration();
        for (var i = 0; i < 40; i++)
        {
            calibration.Record(i % 2 == 0 ? "qa" : null, i / 40.0);
        }

        var options = new CascadeOptions();
        options.TaskThresholds["other"] = 0.8;

        var set = calibration.ApplyTo(options, targetEscalationRate: 0.25, minSamples: 10);

        Assert.Equal(0.25, ThresholdCalibrator.EscalationRate(calibration.Confidences(), options.Threshold), 3);
        Assert.Equal(set["qa"], options.TaskThresholds["qa"]);
        Assert.Equal(0.8, options.TaskThresholds["other"]);
    }

    [Fact]
    public void Only_the_most_recent_confidences_are_kept()
    {
        var calibration = new CascadeCalibration(capacityPerTask: 3);
        foreach (var c in new[] { 0.1, 0.2, 0.3, 0.4, 0.5 })
        {
            calibration.Record("t", c);
        }

        Assert.Equal([0.3, 0.4, 0.5], calibration.Confidences("t"));
    }

    [Fact]
    public void A_threshold_never_leaves_zero_to_one()
    {
        Assert.Equal(1.0, CascadeCalibration.ThresholdFor([0.9, 1.0], 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CascadeCalibration().Record("t", 1.2));
    }
}
