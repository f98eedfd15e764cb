namespace ModelMix.Evaluation;

/// <summary>
/// A part of a dataset, assigned per prompt from a seeded hash of its id (<see cref="DatasetSplitter"/>): train,
/// calibrate and report each on their own part, so no number is reported on data a policy saw.
/// </summary>
internal enum DatasetSplit
{
    /// <summary>Every prompt.</summary>
    All,

    /// <summary>The part a router (and per-task pins) is fitted on: 60%.</summary>
    Train,

    /// <summary>The part a router's threshold is calibrated on: 20%.</summary>
    Calibration,

    /// <summary>The held-out part evaluation reports on: 20%.</summary>
    Test,

    /// <summary>Everything but the test part (train and calibration, 80%): what a cross-fitted router trains on when the test part is kept for a held-out report.</summary>
    Development,
}
