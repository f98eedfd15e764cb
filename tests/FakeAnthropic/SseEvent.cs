namespace FakeAnthropic;

/// <summary>One server-sent event of a stream fixture: its name and its JSON data line.</summary>
internal sealed record SseEvent(string Name, string Data)
{
    /// <summary>Splits an <c>.sse</c> fixture into events (<c>event: X\ndata: {json}\n\n</c> blocks).</summary>
    public static IReadOnlyList<SseEvent> Parse(string text)
    {
        var events = new List<SseEvent>();
        var blocks = text.Replace("\r\n", "\n", StringComparison.Ordinal)
            .Split("\n\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var block in blocks)
        {
            string? name = null;
            var data = new List<string>();
            foreach (var line in block.Split('\n'))
            {
                if (line.StartsWith("event:", StringComparison.Ordinal))
                {
                    name = line["event:".Length..].Trim();
                }
                else if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    data.Add(line["data:".Length..].TrimStart());
                }
            }

            if (name is not null)
            {
                events.Add(new SseEvent(name, string.Join('\n', data)));
            }
        }

        return events;
    }

    /// <summary>The event in wire form.</summary>
    public string ToWire() => $"event: {Name}\ndata: {Data}\n\n";
}
