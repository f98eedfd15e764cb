using System.Text;
using System.Text.Json;

namespace ModelMix.Caching;

/// <summary>
/// Inserts <c>cache_control</c> members into original UTF-8 JSON at positions found with <see cref="Utf8JsonReader"/>,
/// leaving every other byte as it was.
/// </summary>
internal static class Utf8Splicer
{
    public static byte[] Splice(ReadOnlySpan<byte> json, IReadOnlyList<Edit> edits)
    {
        var byPath = edits.ToDictionary(e => e.Path, StringComparer.Ordinal);
        var splices = new List<(int Start, int End, byte[] Text)>(edits.Count);
        var reader = new Utf8JsonReader(json);
        var path = new List<string>();
        var frames = new Stack<Frame>();
        var lastValueEnd = 0;

        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    frames.Peek().Property = reader.GetString();
                    break;
                case JsonTokenType.StartObject or JsonTokenType.StartArray:
                    var pushed = EnterValue(frames, path);
                    frames.Push(new Frame { IsArray = reader.TokenType == JsonTokenType.StartArray, PushedSegment = pushed });
                    break;
                case JsonTokenType.EndObject or JsonTokenType.EndArray:
                    if (reader.TokenType == JsonTokenType.EndObject
                        && byPath.TryGetValue(string.Join('/', path), out var edit) && !edit.IsString)
                    {
                        var member = "," + Member(edit.Ttl);
                        splices.Add((lastValueEnd, lastValueEnd, Encoding.UTF8.GetBytes(member)));
                    }

                    if (frames.Pop().PushedSegment)
                    {
                        path.RemoveAt(path.Count - 1);
                    }

                    lastValueEnd = (int)reader.BytesConsumed;
                    break;
                default:
                    var segment = EnterValue(frames, path);
                    var start = (int)reader.TokenStartIndex;
                    var end = (int)reader.BytesConsumed;
                    if (reader.TokenType == JsonTokenType.String
                        && byPath.TryGetValue(string.Join('/', path), out var stringEdit) && stringEdit.IsString)
                    {
                        var wrapped = new List<byte>();
                        wrapped.AddRange("[{\"type\":\"text\",\"text\":"u8.ToArray());
                        wrapped.AddRange(json[start..end].ToArray());
                        wrapped.AddRange(Encoding.UTF8.GetBytes("," + Member(stringEdit.Ttl) + "}]"));
                        splices.Add((start, end, wrapped.ToArray()));
                    }

                    if (segment)
                    {
                        path.RemoveAt(path.Count - 1);
                    }

                    lastValueEnd = end;
                    break;
            }
        }

        if (splices.Count != edits.Count)
        {
            throw new InvalidOperationException(
                $"Located {splices.Count} of {edits.Count} cache breakpoint positions in the original bytes.");
        }

        splices.Sort((a, b) => a.Start.CompareTo(b.Start));
        var output = new byte[json.Length + splices.Sum(s => s.Text.Length - (s.End - s.Start))];
        int read = 0, written = 0;
        foreach (var (start, end, text) in splices)
        {
            json[read..start].CopyTo(output.AsSpan(written));
            written += start - read;
            text.CopyTo(output.AsSpan(written));
            written += text.Length;
            read = end;
        }

        json[read..].CopyTo(output.AsSpan(written));
        return output;
    }

    private static string Member(PromptCacheTtl ttl) => ttl == PromptCacheTtl.OneHour
        ? "\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}"
        : "\"cache_control\":{\"type\":\"ephemeral\"}";

    /// <summary>Appends the path segment of the value about to start; false at the root.</summary>
    private static bool EnterValue(Stack<Frame> frames, List<string> path)
    {
        if (frames.Count == 0)
        {
            return false;
        }

        var parent = frames.Peek();
        path.Add(parent.IsArray
            ? (parent.Index++).ToString(System.Globalization.CultureInfo.InvariantCulture)
            : parent.Property ?? "");
        return true;
    }

    private sealed class Frame
    {
        public bool IsArray { get; init; }

        public bool PushedSegment { get; init; }

        public int Index { get; set; }

        public string? Property { get; set; }
    }
}
