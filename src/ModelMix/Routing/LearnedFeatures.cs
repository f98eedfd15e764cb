using System.Runtime.CompilerServices;

namespace ModelMix.Routing;

/// <summary>
/// Turns a request into the learned router's features without allocating (feature version 2): the text's tail (the
/// question usually comes last, after any few-shot examples; at most <see cref="LearnedFeatureSettings.MaxChars"/>
/// characters, ≤ <see cref="LearnedFeatureSettings.MaxScanChars"/>) is lower-cased once into a stack buffer, then one
/// pass hashes word uni- and bigrams (FNV-1a over the word's characters) and character n-grams (a rolling 64-bit
/// window of the last n characters, multiplicatively hashed) straight into weight indexes; the task label, a length
/// bucket and code / math / multiple-choice markers (plain ordinal searches of the lower-cased tail, no regex) are
/// added too. Each feature goes to an <see cref="IFeatureSink"/>: text n-grams (word and character ones apart, so a
/// scorer can read only the words) are L2-normalised by the sink (their count is only known at the end), the others
/// have weight one. Training and scoring both use this one function.
/// </summary>
internal static class LearnedFeatures
{
    private const uint WordSeed = 0x9E3779B1u;
    private const uint BigramSeed = 0x85EBCA77u;
    private const ulong CharSeed = 0xC2B2AE3D27D4EB2FUL;
    private const uint TaskSeed = 0x27D4EB2Fu;
    private const uint MarkerSeed = 0x165667B1u;

    // Lower-case markers, searched ordinally in the lower-cased tail.
    private static readonly string[] s_codeMarkers = ["```", "def ", "function", "return", "python", "class ", "print(", "import ", "list", "string", "array"];
    private static readonly string[] s_mathMarkers = ["calculate", "solve", "sum", "number", "integer", "equation", "+", "*", "%", "="];
    private static readonly string[] s_choiceMarkers = ["a)", "b)", "c)", "d)", "(a)", "answer:", "choice", "_"];

    /// <summary>Feeds the features of a request to <paramref name="sink"/>.</summary>
    /// <param name="text">The request text (system + last user message, or a dataset prompt).</param>
    /// <param name="task">The task label, or null.</param>
    /// <param name="settings">The hashing settings the router was trained with.</param>
    /// <param name="sink">Receives the features.</param>
    public static void Extract<TSink>(ReadOnlySpan<char> text, string? task, LearnedFeatureSettings settings, ref TSink sink)
        where TSink : struct, IFeatureSink
    {
        var mask = (uint)((1 << settings.HashBits) - 1);
        var shift = 64 - settings.HashBits;
        var max = Math.Min(settings.MaxChars, LearnedFeatureSettings.MaxScanChars);
        var source = text.Length > max ? text[^max..] : text;
        Span<char> lower = stackalloc char[source.Length];
        source.ToLowerInvariant(lower);

        // Task label (or its absence) and length bucket (of the whole text).
        var taskHash = TaskHash(task);
        sink.Add((int)(taskHash & mask), 1f);
        var bucket = text.Length == 0 ? 0 : 1 + (int)Math.Log2(text.Length);
        sink.Add((int)(Mix(MarkerSeed, (uint)(1000 + Math.Min(bucket, 24))) & mask), 1f);

        // Markers of structure: code, math, multiple choice (each count crossed with the task, so a marker can mean
        // different things in different tasks).
        Markers(lower, s_codeMarkers, 1, taskHash, mask, ref sink);
        Markers(lower, s_mathMarkers, 2, taskHash, mask, ref sink);
        Markers(lower, s_choiceMarkers, 3, taskHash, mask, ref sink);

        // One pass: word uni- and bigrams and character n-grams.
        var n = settings.CharNgrams;
        var windowMask = n == 0 ? 0UL : n >= 4 ? ulong.MaxValue : (1UL << (16 * n)) - 1;
        var bigrams = settings.WordNgrams >= 2;
        ulong window = 0;
        uint word = WordSeed;
        uint previous = 0;
        var inWord = false;
        var hasPrevious = false;
        for (var i = 0; i < lower.Length; i++)
        {
            var c = lower[i];
            if (n > 0)
            {
                window = (window << 16) | c;
                if (i + 1 >= n)
                {
                    sink.AddChar((int)((((window & windowMask) ^ CharSeed) * 0x9E3779B97F4A7C15UL) >> shift));
                }
            }

            if (char.IsAsciiLetterOrDigit(c) || (c > 127 && char.IsLetterOrDigit(c)))
            {
                word = (word ^ c) * 16777619u;
                inWord = true;
            }
            else if (inWord)
            {
                EndWord(word, ref previous, ref hasPrevious, bigrams, mask, ref sink);
                word = WordSeed;
                inWord = false;
            }
        }

        if (inWord)
        {
            EndWord(word, ref previous, ref hasPrevious, bigrams, mask, ref sink);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EndWord<TSink>(uint word, ref uint previous, ref bool hasPrevious, bool bigrams, uint mask, ref TSink sink)
        where TSink : struct, IFeatureSink
    {
        sink.AddWord((int)(Finish(word) & mask));
        if (hasPrevious && bigrams)
        {
            sink.AddWord((int)(Mix(BigramSeed ^ previous, word) & mask));
        }

        previous = word;
        hasPrevious = true;
    }

    private static void Markers<TSink>(ReadOnlySpan<char> lower, string[] markers, uint kind, uint taskHash, uint mask, ref TSink sink)
        where TSink : struct, IFeatureSink
    {
        var hits = 0u;
        for (var m = 0; m < markers.Length; m++)
        {
            if (lower.IndexOf(markers[m].AsSpan(), StringComparison.Ordinal) >= 0)
            {
                hits++;
                sink.Add((int)(Mix(MarkerSeed + kind, (uint)m) & mask), 1f);
            }
        }

        // How many markers of the kind, crossed with the task.
        sink.Add((int)(Mix(taskHash ^ (MarkerSeed * kind), Math.Min(hits, 4u)) & mask), 1f);
    }

    private static uint TaskHash(string? task)
    {
        if (task is null)
        {
            return Finish(TaskSeed ^ 0xFFFFu);
        }

        var h = TaskSeed;
        foreach (var c in task)
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

    /// <summary>A word uni- or bigram: its value is 1 / sqrt(number of text n-grams the scorer reads), applied at the end.</summary>
    void AddWord(int index);

    /// <summary>A character n-gram: normalised as <see cref="AddWord"/>.</summary>
    void AddChar(int index);
}
