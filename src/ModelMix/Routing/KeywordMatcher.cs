using System.Buffers;

namespace ModelMix.Routing;

/// <summary>
/// Finds any of a set of keywords in a text, case-insensitively and at word boundaries (a keyword ending in
/// <c>*</c> is a prefix: <c>classif*</c> matches "classify" and "classification"). Built once per rule; the scan is
/// a vectorized <see cref="SearchValues{T}"/> search followed by a boundary check, and allocates nothing. A phrase
/// with spaces also matches with hyphens (<c>design system</c> matches the task label <c>design-system</c>).
/// </summary>
internal sealed class KeywordMatcher
{
    private readonly SearchValues<string> _values;
    private readonly string[] _words;
    private readonly bool[] _isPrefix;
    private readonly string[] _described;
    private readonly int[] _origin;

    public KeywordMatcher(IEnumerable<string> keywords)
    {
        var words = new List<string>();
        var prefixes = new List<bool>();
        var described = new List<string>();
        var origin = new List<int>();
        var all = keywords.Select(k => k.Trim()).ToList();
        foreach (var raw in all)
        {
            var keyword = raw;
            var prefix = keyword.EndsWith('*');
            keyword = prefix ? keyword[..^1].TrimEnd() : keyword;
            if (keyword.Length == 0)
            {
                throw new ArgumentException("A keyword must not be empty.", nameof(keywords));
            }

            var at = described.Count;
            described.Add(prefix ? keyword + "*" : keyword);
            words.Add(keyword);
            prefixes.Add(prefix);
            origin.Add(at);
            if (keyword.Contains(' ', StringComparison.Ordinal) && !all.Contains(keyword.Replace(' ', '-') + (prefix ? "*" : string.Empty), StringComparer.OrdinalIgnoreCase))
            {
                words.Add(keyword.Replace(' ', '-'));
                prefixes.Add(prefix);
                origin.Add(at);
            }
        }

        _words = [.. words];
        _isPrefix = [.. prefixes];
        _described = [.. described];
        _origin = [.. origin];
        _values = SearchValues.Create(_words, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The first keyword found in <paramref name="text"/>, or -1; the index is into the keyword list.</summary>
    public int IndexOfMatch(ReadOnlySpan<char> text)
    {
        var offset = 0;
        while (offset < text.Length)
        {
            var found = text[offset..].IndexOfAny(_values);
            if (found < 0)
            {
                return -1;
            }

            var at = offset + found;
            var rest = text[at..];
            for (var i = 0; i < _words.Length; i++)
            {
                var word = _words[i];
                if (!rest.StartsWith(word, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                var startOk = at == 0 || !IsWordChar(word[0]) || !IsWordChar(text[at - 1]);
                var end = at + word.Length;
                var endOk = _isPrefix[i] || end == text.Length || !IsWordChar(word[^1]) || !IsWordChar(text[end]);
                if (startOk && endOk)
                {
                    return _origin[i];
                }
            }

            offset = at + 1;
        }

        return -1;
    }

    /// <summary>Whether any keyword occurs in <paramref name="text"/>.</summary>
    public bool IsMatch(ReadOnlySpan<char> text) => IndexOfMatch(text) >= 0;

    /// <summary>The keyword at <paramref name="index"/> as configured (with its <c>*</c> when a prefix).</summary>
    public string Describe(int index) => _described[index];

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}
