namespace ModelMix.Batching;

/// <summary>
/// Picks the requests of one submission from queued candidates read in queue order (the SQLite and PostgreSQL stores
/// alike): within the byte budget (the first one always goes, however large), and keeping jobs with faults apart —
/// when the first candidate's job has faults the submission takes only that job's requests, otherwise only requests
/// of jobs without faults. So a poisoned job is retried alone and cannot take other jobs' requests down with it again.
/// </summary>
internal sealed class SubmissionPicker(long maxParamsBytes)
{
    private long _bytes;
    private bool _started;
    private string? _isolated;

    /// <summary>The request ids taken, in order.</summary>
    public List<string> Taken { get; } = [];

    /// <summary>Offers the next candidate; false when the submission is full (stop reading).</summary>
    public bool Offer(string itemId, long size, string jobId, int jobFailures)
    {
        if (!_started)
        {
            _started = true;
            _isolated = jobFailures > 0 ? jobId : null;
        }

        if (_isolated is not null ? !string.Equals(jobId, _isolated, StringComparison.Ordinal) : jobFailures > 0)
        {
            return true; // not for this submission: keep reading
        }

        if (Taken.Count > 0 && _bytes + size > maxParamsBytes)
        {
            return false;
        }

        _bytes += size;
        Taken.Add(itemId);
        return true;
    }
}
