namespace ModelMix.Routing;

/// <summary>How a learned router hashes requests into features; stored in the router file so scoring matches training.</summary>
/// <param name="HashBits">Features are hashed into 2^HashBits weights (10 to 24).</param>
/// <param name="WordNgrams">1 for words, 2 for words and word pairs.</param>
/// <param name="CharNgrams">The character n-gram length (0 for none, at most 4).</param>
/// <param name="MaxChars">Only the last this many characters of the text are read (the question comes last); at most
/// <see cref="MaxScanChars"/>, so the per-request work is bounded.</param>
internal sealed record LearnedFeatureSettings(int HashBits = 16, int WordNgrams = 2, int CharNgrams = 4, int MaxChars = 2000)
{
    /// <summary>The most characters of a request any router reads (they are lower-cased into a stack buffer).</summary>
    public const int MaxScanChars = 4096;

    /// <summary>Validates the settings, naming the bad one.</summary>
    /// <exception cref="RoutingConfigurationException">A setting is out of range.</exception>
    public void Validate(string source)
    {
        if (HashBits is < 10 or > 24)
        {
            throw new RoutingConfigurationException($"{source}: features.hash_bits must be between 10 and 24, not {HashBits}.");
        }

        if (WordNgrams is < 1 or > 2 || CharNgrams is < 0 or > 4 || MaxChars is < 1 or > MaxScanChars)
        {
            throw new RoutingConfigurationException($"{source}: features need word_ngrams 1-2, char_ngrams 0-4 and max_chars 1-{MaxScanChars}.");
        }
    }
}
