using System.Runtime.CompilerServices;

namespace ModelMix.Routing;

/// <summary>
/// Turns a request into the learned router's features without allocating: hashed word uni- and bigrams and character
/// n-grams of the text's tail (the question usually comes last, after any few-shot examples), the task label, length
/// buckets, and code / math / multiple-choice markers. Each feature goes to an <see cref="IFeatureSink"/>: text n-grams
/// are L2-normalised by the sink (their count is only known at the end), the others have weight one.
/// </summary>
internal static class LearnedFeatures
{
    private const uint WordSeed = 0x9E3779B1u;
    private const uint BigramSeed = 0x85EBCA77u;
    private const uint CharSeed = 0xC2B2AE3Du;
    private const uint TaskSeed = 0x27D4EB2Fu;
    private const uint MarkerSeed = 0x165667B1u;

    private static readonly string[] s_codeMarkers = ["```", "def ", "function", "return", "python", "class ", "print(", "import ", "list", "string", "array"];
    private static readonly string[] s_mathMarkers = ["calculate", "solve", "sum", "number", "integer", "equation", "+", "*", "%", "="];
    private static readonly string[] s_choiceMarkers = ["A)", "B)", "C)", "D)", "(A)", "Answer:", "choice", "_"];

    /// <summary>Feeds the features of a request to <paramref name="sink"/>.</summary>
    /// <param name="text">The request text (system + last user message, or a dataset prompt).</param>
    /// <param name="task">The task label, or null.</param>
    /// <param name="settings">The hashing settings the router was trained with.</param>
    /// <param name="sink">Receives the features.</param>
    public static void Extract<TSink>(ReadOnlySpan<char> text, string? task, LearnedFeatureSettings settings, ref TSink sink)
        where TSink : struct, IFeatureSink
    {
        var mask = (1 << settings.HashBits) - 1;
        var tail = text.Length > settings.MaxChars ? text[^settings.MaxChars..] : text;

        // Task label (or its absence) and length bucket.
        sink.Add((int)(Hash(TaskSeed, task ?? "\0none") & (uint)mask), 1f);
        var bucket = text.Length == 0 ? 0 : 1 + (int)Math.Log2(text.Length);
        sink.Add((int)(Mix(MarkerSeed, (uint)(1000 + Math.Min(bucket, 24))) & (uint)mask), 1f);

        // Markers of structure: code, math, multiple choice (each crossed with the task, so a marker can mean
        // different things in different tasks).
        var taskHash = Hash(TaskSeed, task ?? "\0none");
        Markers(tail, s_codeMarkers, 1, taskHash, mask, ref sink);
        Markers(tail, s_mathMarkers, 2, taskHash, mask, ref sink);
        Markers(tail, s_choiceMarkers, 3, taskHash, mask, ref sink);

        // Word uni- and bigrams.
        uint previous = 0;
        var hasPrevious = false;
        var i = 0;
        while (i < tail.Length)
        {
            if (!char.IsLetterOrDigit(tail[i]))
            {
                i++;
                continue;
            }

            var word = WordSeed;
            while (i < tail.Length && char.IsLetterOrDigit(tail[i]))
            {
                word = (word ^ char.ToLowerInvariant(tail[i])) * 16777619u;
                i++;
            }

            sink.AddText((int)(Finish(word) & (uint)mask));
            if (hasPrevious && settings.WordNgrams >= 2)
            {
                sink.AddText((int)(Finish(Mix(BigramSeed ^ previous, word)) & (uint)mask));
            }

            previous = word;
            hasPrevious = true;
        }

        // Character n-grams.
        var n = settings.CharNgrams;
        if (n > 0)
        {
            for (var start = 0; start + n <= tail.Length; start++)
            {
                var h = CharSeed;
                for (var k = 0; k < n; k++)
                {
                    h = (h ^ char.ToLowerInvariant(tail[start + k])) * 16777619u;
                }

                sink.AddText((int)(Finish(h) & (uint)mask));
            }
        }
    }

    private static void Markers<TSink>(ReadOnlySpan<char> text, string[] markers, uint kind, uint taskHash, int mask, ref TSink sink)
        where TSink : struct, IFeatureSink
    {
        var hits = 0u;
        for (var m = 0; m < markers.Length; m++)
        {
            if (text.Contains(markers[m], StringComparison.OrdinalIgnoreCase))
            {
                hits++;
                sink.Add((int)(Finish(Mix(MarkerSeed + kind, (uint)m)) & (uint)mask), 1f);
            }
        }

        // How many markers of the kind, crossed with the task.
        sink.Add((int)(Finish(Mix(taskHash ^ (MarkerSeed * kind), Math.Min(hits, 4u))) & (uint)mask), 1f);
    }

    private static uint Hash(uint seed, string text)
    {
        var h = seed;
        foreach (var c in text)
        {
            h = (h ^ char.ToLowerInvariant(c)) * 16777619u;
        }

        return Finish(h);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Mix(uint a, uint b) => Finish((a * 0x9E3779B1u) ^ (b + 0x7F4A7C15u + (a << 6) + (a >> 2)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Finish(uint h)
    {
        h ^= h >> 16;
        h *= 0x85EBCA6Bu;
        h ^= h >> 13;
        h *= 0xC2B2AE35u;
        h ^= h >> 16;
        return h;
    }
}

/// <summary>Receives the learned router's features (see <see cref="LearnedFeatures"/>).</summary>
internal interface IFeatureSink
{
    /// <summary>A feature with its own value.</summary>
    void Add(int index, float value);

    /// <summary>A text n-gram: its value is 1 / sqrt(number of text n-grams), applied at the end.</summary>
    void AddText(int index);
}
