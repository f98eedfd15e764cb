using System.Text.Json.Nodes;

namespace FakeAnthropic;

/// <summary>
/// For the standalone server (bench/soak.sh <c>--batch-lie-share</c>): makes a share of the Message Batches API's
/// answers, picked at random, lie the ways <c>BatchLyingUpstreamTests</c> drive one at a time — a 500, garbage, a
/// batch object without <c>processing_status</c> or with an unknown one, a create that repeats an older batch's id or
/// has no id, a results file with garbage lines, a stranger's and a repeated line. The state behind it stays honest.
/// </summary>
internal static class BatchLiar
{
    /// <summary>Sets <see cref="FakeBatches.Lie"/> on <paramref name="batches"/> to lie in <paramref name="share"/> of the answers.</summary>
    public static void Install(FakeBatches batches, double share, int seed)
    {
        var random = new Random(seed);
        var gate = new Lock();
        batches.Lie = answer =>
        {
            int pick;
            lock (gate)
            {
                if (random.NextDouble() >= share)
                {
                    return null;
                }

                pick = random.Next(4);
            }

            return answer.Status != 200 ? null : (answer.Call, pick) switch
            {
                (_, 0) => answer.Failing(500),
                ("results", _) => answer with
                {
                    Body = "garbage line\n{\"custom_id\":\"stranger\",\"result\":{\"type\":\"succeeded\"}}\n" + answer.Body + answer.Body.Split('\n')[0] + "\n",
                },
                ("create", 1) when batches.BatchIds.Count > 1 => answer.With("id", batches.BatchIds[0]),
                ("create", _) => answer.Without("id"),
                (_, 1) => answer.Garbage(),
                (_, 2) => answer.Without("processing_status"),
                _ => answer.With("processing_status", "exploded"),
            };
        };
    }
}
