namespace ModelMix.Routing;

/// <summary>
/// Fits a <see cref="LearnedRouter"/>: L2-regularised logistic regression per head, by stochastic gradient descent
/// over the examples in a seeded order with a decaying step. Deterministic: the same examples, settings and seed give
/// the same weights, bit for bit.
/// </summary>
public static class LearnedRouterTrainer
{
    /// <summary>Trains a router.</summary>
    /// <param name="examples">The training examples (in any order: they are sorted by nothing, shuffled by the seed).</param>
    /// <param name="tiers">The tiers' dataset models (a mid head is trained when <see cref="LearnedRouterTiers.Mid"/> is set).</param>
    /// <param name="options">Training settings.</param>
    /// <exception cref="ArgumentException">No examples.</exception>
    public static LearnedRouter Train(IReadOnlyList<LearnedRouterExample> examples, LearnedRouterTiers tiers, LearnedRouterTrainingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(tiers);
        options ??= new LearnedRouterTrainingOptions();
        if (examples.Count == 0)
        {
            throw new ArgumentException("Training needs at least one example.", nameof(examples));
        }

        options.Features.Validate("training");
        var vectors = new (int[] Index, float[] Value)[examples.Count];
        for (var i = 0; i < examples.Count; i++)
        {
            var sink = new CollectSink(new List<int>(256), new List<float>(256), new List<int>(512));
            LearnedFeatures.Extract(examples[i].Text, examples[i].Task, options.Features, ref sink);
            vectors[i] = sink.ToVector();
        }

        var size = 1 << options.Features.HashBits;
        var cheap = Fit(vectors, [.. examples.Select(e => e.CheapOk)], size, options);
        var mid = tiers.Mid is null ? null : Fit(vectors, [.. examples.Select(e => e.MidOk)], size, options);
        return new LearnedRouter(options.Features, tiers, cheap, mid);
    }

    /// <summary>The mean log-loss of a head's predictions (for reports).</summary>
    internal static double LogLoss(IReadOnlyList<double> predictions, IReadOnlyList<bool> labels)
    {
        var sum = 0.0;
        for (var i = 0; i < predictions.Count; i++)
        {
            var p = Math.Clamp(predictions[i], 1e-9, 1 - 1e-9);
            sum -= labels[i] ? Math.Log(p) : Math.Log(1 - p);
        }

        return sum / predictions.Count;
    }

    private static LearnedRouterHead Fit((int[] Index, float[] Value)[] vectors, bool[] labels, int size, LearnedRouterTrainingOptions options)
    {
        var weights = new double[size];
        var positives = labels.Count(l => l);
        var prior = (positives + 1.0) / (labels.Length + 2.0);
        var bias = Math.Log(prior / (1 - prior));
        var order = Enumerable.Range(0, vectors.Length).ToArray();
        var random = new Random(options.Seed);
        var step = 0;
        for (var epoch = 0; epoch < options.Epochs; epoch++)
        {
            random.Shuffle(order);
            foreach (var i in order)
            {
                var rate = options.LearningRate / (1.0 + (options.Decay * step++ / vectors.Length));
                var (index, value) = vectors[i];
                var z = bias;
                for (var k = 0; k < index.Length; k++)
                {
                    z += weights[index[k]] * value[k];
                }

                var gradient = LearnedRouter.Sigmoid(z) - (labels[i] ? 1.0 : 0.0);
                bias -= rate * gradient;
                for (var k = 0; k < index.Length; k++)
                {
                    ref var w = ref weights[index[k]];
                    w -= rate * ((gradient * value[k]) + (options.L2 * w));
                }
            }
        }

        return new LearnedRouterHead((float)bias, [.. weights.Select(w => (float)w)]);
    }

    private readonly struct CollectSink(List<int> index, List<float> value, List<int> text) : IFeatureSink
    {
        public void Add(int i, float v)
        {
            index.Add(i);
            value.Add(v);
        }

        public void AddText(int i) => text.Add(i);

        public (int[] Index, float[] Value) ToVector()
        {
            // Merge duplicates so each hashed feature appears once with its summed value.
            var scale = text.Count > 0 ? 1f / MathF.Sqrt(text.Count) : 0f;
            var merged = new SortedDictionary<int, float>();
            for (var k = 0; k < index.Count; k++)
            {
                merged[index[k]] = merged.GetValueOrDefault(index[k]) + value[k];
            }

            foreach (var i in text)
            {
                merged[i] = merged.GetValueOrDefault(i) + scale;
            }

            return ([.. merged.Keys], [.. merged.Values]);
        }
    }
}
