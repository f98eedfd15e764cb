using System.Runtime.InteropServices;
using System.Text.Json;

namespace ModelMix.Server;

/// <summary>
/// Finds a name given twice in one JSON object. A request body with a top-level field twice is refused on both doors:
/// the parsers here read the last value (<see cref="JsonElement.TryGetProperty(string, out JsonElement)"/>) while the
/// body rewriter edits the first and the upstream may take either, so what ModelMix routes, holds a budget for and
/// records could differ from what the upstream runs and bills (<c>model</c>, <c>max_tokens</c>, <c>stream</c>, <c>tools</c>, …).
/// </summary>
internal static class DuplicateFields
{
    /// <summary>Up to this many names are compared pairwise (no allocation); past it, through a set (linear).</summary>
    private const int PairwiseLimit = 16;

    /// <summary>
    /// The first name of <paramref name="obj"/> (an object) that repeats an earlier one, compared after unescaping
    /// (<c>"mod\u0065l"</c> is <c>model</c>), or null when every name is unique.
    /// </summary>
    /// <exception cref="InvalidOperationException">A name holds an escaped unpaired surrogate (System.Text.Json cannot decode it).</exception>
    public static string? FirstDuplicate(JsonElement obj)
    {
        HashSet<string>? seen = null;
        var index = 0;
        foreach (var property in obj.EnumerateObject())
        {
            if (index == PairwiseLimit)
            {
                // Many names (not a request a client writes): a set keeps a hostile body linear.
                seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var earlier in obj.EnumerateObject())
                {
                    if (seen.Count == index)
                    {
                        break;
                    }

                    seen.Add(earlier.Name);
                }
            }

            if (seen is not null)
            {
                if (!seen.Add(property.Name))
                {
                    return property.Name;
                }
            }
            else if (RepeatsEarlier(obj, property, index))
            {
                return property.Name;
            }

            index++;
        }

        return null;
    }

    private static bool RepeatsEarlier(JsonElement obj, JsonProperty property, int count)
    {
        if (count == 0)
        {
            return false;
        }

        // NameEquals unescapes the earlier name; this one is compared raw unless it holds an escape itself.
        var raw = JsonMarshal.GetRawUtf8PropertyName(property);
        var escaped = raw.IndexOf((byte)'\\') >= 0;
        var name = escaped ? property.Name : null;
        var j = 0;
        foreach (var earlier in obj.EnumerateObject())
        {
            if (j++ == count)
            {
                break;
            }

            if (escaped ? earlier.NameEquals(name) : earlier.NameEquals(raw))
            {
                return true;
            }
        }

        return false;
    }
}
