namespace ModelMix.Routing;

/// <summary>
/// Fits a <see cref="LearnedRouter"/>: the per-task prior, then per head (top minus cheap, top minus mid) and per
/// scorer an L2-regularised logistic regression on the fractional target (gap + 1) / 2, by stochastic gradient
/// descent over the examples in a seeded order with a decaying step. Deterministic: the same examples, settings and
/// seed give the same weights, bit for bit. Cross-fitting (<c>RouterTraining.CrossFit</c>) calls it once per fold.
/// </summary>
internal static class LearnedRouterTrainer
{
    /// <summary>Trains a router on every example (no cross-fitting).</summary>
    /// <param name="examples">The training examples (in any order: they are shuffled by the seed).</param>
    /// <param name="tiers">The tiers' dataset models (mid heads are trained when <see cref="LearnedRouterTiers.Mid"/> is set).</param>
    /// <param name="options">Training settings; <see cref="LearnedRouterTrainingOptions.Scorers"/> null means the linear scorer.</param>
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

        var scorers = options.Scorers ?? LearnedScorers.Linear;
        return Fit(Vectorize(examples, options), examples, [.. Enumerable.Range(0, examples.Count)], tiers, options, scorers, (scorers & LearnedScorers.Words) != 0);
    }

    /// <summary>The features of every example, extracted once (cross-fitting reuses them fold after fold).</summary>
    internal static ExampleVectors[] Vectorize(IReadOnlyList<LearnedRouterExample> examples, LearnedRouterTrainingOptions options)
    {
        options.Features.Validate("training");
        var vectors = new ExampleVectors[examples.Count];
        for (var i = 0; i < examples.Count; i++)
        {
            var sink = new CollectSink(new List<int>(64), new List<float>(64), new List<int>(512), new List<int>(2048));
            LearnedFeatures.Extract(examples[i].Text, examples[i].Task, options.Features, ref sink);
            vectors[i] = sink.ToVectors();
        }

        return vectors;
    }

    /// <summary>Fits a router on the examples at <paramref name="rows"/>, the words scorer's heads too when asked.</summary>
    internal static LearnedRouter Fit(ExampleVectors[] vectors, IReadOnlyList<LearnedRouterExample> examples, int[] rows, LearnedRouterTiers tiers, LearnedRouterTrainingOptions options, LearnedScorers scorers, bool fitWords)
    {
        if (rows.Length == 0)
        {
            throw new ArgumentException("Training needs at least one example.", nameof(rows));
        }

        var hasMid = tiers.Mid is not null;
        var cheapTarget = rows.Select(r => Target(examples[r].CheapGain, options.GainTarget)).ToArray();
        var midTarget = rows.Select(r => hasMid ? Target(examples[r].MidGain, options.GainTarget) : 0.5).ToArray();
        var prior = LearnedTaskPrior.Fit(
            [.. rows.Select(r => examples[r].Task)],
            [.. cheapTarget.Select(y => (2 * y) - 1)],
            [.. midTarget.Select(y => (2 * y) - 1)],
            options.PriorStrength);
        var priorCheap = new float[rows.Length];
        var priorMid = new float[rows.Length];
        for (var k = 0; k < rows.Length; k++)
        {
            var (c, m) = prior.Lookup(examples[rows[k]].Task);
            priorCheap[k] = options.TaskPriorFeature ? LearnedRouter.PriorLogit((c + 1) / 2) : 0f;
            priorMid[k] = options.TaskPriorFeature ? LearnedRouter.PriorLogit((m + 1) / 2) : 0f;
        }

        var size = 1 << options.Features.HashBits;
        var linear = rows.Select(r => vectors[r].Linear).ToArray();
        var cheap = FitHead(linear, priorCheap, cheapTarget, size, options);
        var mid = hasMid ? FitHead(linear, priorMid, midTarget, size, options) : null;
        LearnedRouterHead? cheapWords = null, midWords = null;
        if (fitWords)
        {
            var words = rows.Select(r => vectors[r].Words).ToArray();
            cheapWords = FitHead(words, priorCheap, cheapTarget, size, options);
            midWords = hasMid ? FitHead(words, priorMid, midTarget, size, options) : null;
        }

        return new LearnedRouter(options.Features, tiers, cheap, mid, cheapWords, midWords, prior, scorers);
    }

    /// <summary>The training target of a gap: (gap + 1) / 2, or v1's label (1 when the top tier was strictly better).</summary>
    internal static double Target(double gap, bool gainTarget) =>
        gainTarget ? Math.Clamp((gap + 1) / 2, 0, 1) : gap > 0 ? 1 : 0;

    /// <summary>The mean log-loss of predictions of fractional targets (for reports).</summary>
    internal static double LogLoss(IReadOnlyList<double> predictions, IReadOnlyList<double> targets)
    {
        var sum = 0.0;
        for (var i = 0; i < predictions.Count; i++)
        {
            var p = Math.Clamp(predictions[i], 1e-9, 1 - 1e-9);
            sum -= (targets[i] * Math.Log(p)) + ((1 - targets[i]) * Math.Log(1 - p));
        }

        return sum / predictions.Count;
    }

    private static LearnedRouterHead FitHead(SparseVector[] vectors, float[] prior, double[] targets, int size, LearnedRouterTrainingOptions options)
    {
        var weights = new double[size];
        var mean = Math.Clamp((targets.Sum() + 1.0) / (targets.Length + 2.0), 1e-3, 1 - 1e-3);
        var bias = Math.Log(mean / (1 - mean));
        var priorWeight = 0.0;
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
                var z = bias + (priorWeight * prior[i]);
                for (var k = 0; k < index.Length; k++)
                {
                    z += weights[index[k]] * value[k];
                }

                var gradient = LearnedRouter.Sigmoid(z) - targets[i];
                bias -= rate * gradient;
                priorWeight -= rate * ((gradient * prior[i]) + (options.L2 * priorWeight));
                for (var k = 0; k < index.Length; k++)
                {
                    ref var w = ref weights[index[k]];
                    w -= rate * ((gradient * value[k]) + (options.L2 * w));
                }
            }
        }

        return new LearnedRouterHead((float)bias, [.. weights.Select(w => (float)w)], (float)priorWeight);
    }

    /// <summary>A sparse feature vector: sorted distinct indexes and their values.</summary>
    internal readonly record struct SparseVector(int[] Index, float[] Value);

    /// <summary>An example's vectors for the linear scorer (every feature) and the words scorer (no character n-grams).</summary>
    internal readonly record struct ExampleVectors(SparseVector Linear, SparseVector Words);

    private readonly struct CollectSink(List<int> index, List<float> value, List<int> words, List<int> chars) : IFeatureSink
    {
        public void Add(int i, float v)
        {
            index.Add(i);
            value.Add(v);
        }

        public void AddWord(int i) => words.Add(i);

        public void AddChar(int i) => chars.Add(i);

        public ExampleVectors ToVectors()
        {
            // Merge duplicates so each hashed feature appears once with its summed value; text n-grams are scaled by
            // 1 / sqrt(their count) as the scorer does.
            var all = words.Count + chars.Count;
            var linear = Merge(all > 0 ? 1f / MathF.Sqrt(all) : 0f, includeChars: true);
            var wordsOnly = Merge(words.Count > 0 ? 1f / MathF.Sqrt(words.Count) : 0f, includeChars: false);
            return new ExampleVectors(linear, wordsOnly);
        }

        private SparseVector Merge(float scale, bool includeChars)
        {
            var merged = new SortedDictionary<int, float>();
            for (var k = 0; k < index.Count; k++)
            {
                merged[index[k]] = merged.GetValueOrDefault(index[k]) + value[k];
            }

            foreach (var i in words)
            {
                merged[i] = merged.GetValueOrDefault(i) + scale;
            }

            if (includeChars)
            {
                foreach (var i in chars)
                {
                    merged[i] = merged.GetValueOrDefault(i) + scale;
                }
            }

            return new SparseVector([.. merged.Keys], [.. merged.Values]);
        }
    }
}
