using System.Globalization;
using ModelMix.Pricing;

namespace ModelMix.IntegrationTests.Support;

/// <summary>
/// The price book for tests whose hand-worked money figures (or price-driven choices, e.g. cache-aware routing) were
/// computed at the 4.x tier prices: the embedded catalog overlaid with the tier map it had before the 5.x models
/// (haiku → Claude Haiku 4.5 $1/$5, sonnet → Claude Sonnet 4.6 $3/$15, opus → Claude Opus 4.6 $5/$25 per MTok). The
/// 4.x entries keep their prices in the catalog, so only the tiers are overlaid; every other model (and the default's
/// extra tiers, e.g. <c>fable</c>) is unchanged. Pass <see cref="Tiers4x"/> where the code under test takes a
/// <see cref="PriceBook"/>; for a proxy, <see cref="Use4xTiers"/> points <c>ModelMix:Prices</c> at <see cref="Tiers4xFile"/>.
/// </summary>
internal static class TestPrices
{
    /// <summary>The overlay's JSON: only the tiers, no model entries.</summary>
    public const string Tiers4xJson = """{"tiers":{"haiku":"claude-haiku-4-5","sonnet":"claude-sonnet-4-6","opus":"claude-opus-4-6"},"models":[]}""";

    private static readonly Lazy<PriceBook> s_tiers4x = new(static () => PriceBook.Parse(Tiers4xJson, "tests: 4.x tiers"));
    private static readonly Lazy<string> s_tiers4xFile = new(WriteTiers4xFile);

    /// <summary>The embedded catalog with the 4.x tier map.</summary>
    public static PriceBook Tiers4x => s_tiers4x.Value;

    /// <summary>A file holding <see cref="Tiers4xJson"/> (written once per test run, under the temp folder).</summary>
    public static string Tiers4xFile => s_tiers4xFile.Value;

    /// <summary>Proxy settings: <c>ModelMix:Prices</c> = <see cref="Tiers4xFile"/>.</summary>
    public static void Use4xTiers(Dictionary<string, string?> settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings["ModelMix:Prices"] = Tiers4xFile;
    }

    private static string WriteTiers4xFile()
    {
        var folder = Path.Combine(Path.GetTempPath(), "modelmix-integration-prices", Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(folder);
        var file = Path.Combine(folder, "tiers-4x.json");
        File.WriteAllText(file, Tiers4xJson);
        return file;
    }
}
