using System.Buffers;

namespace ModelMix.Server;

/// <summary>
/// Splits relayed Server-Sent-Events bytes, however they are chunked, into events (blank-line separated, LF or CRLF)
/// and hands each event's <c>data:</c> payload (empty for an event without one) to a handler. Shared by the usage tap
/// and the OpenAI stream translator.
/// </summary>
internal sealed class SseEventReader
{
    private readonly ArrayBufferWriter<byte> _pending = new(4096);
    private readonly long _maxEventBytes;

    /// <summary>A reader that gives up on an event larger than <paramref name="maxEventBytes"/> (<see cref="Overflowed"/>).</summary>
    public SseEventReader(long maxEventBytes = long.MaxValue) => _maxEventBytes = maxEventBytes;

    /// <summary>
    /// Whether an event grew past the reader's limit: it holds nothing more and reads nothing more from then on
    /// (its memory is bounded by the limit, whatever the upstream sends).
    /// </summary>
    public bool Overflowed { get; private set; }

    /// <summary>Receives one event's data payload.</summary>
    public delegate void DataHandler(ReadOnlySpan<byte> data);

    /// <summary>Feeds the next chunk; calls <paramref name="onEvent"/> for every event it completes.</summary>
    public void Feed(ReadOnlySpan<byte> chunk, DataHandler onEvent)
    {
        if (Overflowed)
        {
            return;
        }

        _pending.Write(chunk);
        var data = _pending.WrittenSpan;
        var consumed = 0;
        while (true)
        {
            var end = FindEventEnd(data[consumed..], out var separatorLength);
            if (end < 0)
            {
                break;
            }

            onEvent(DataOf(data.Slice(consumed, end)));
            consumed += end + separatorLength;
        }

        // Stryker disable once Equality : equivalent (docs/testing.md, sse-usage): with nothing consumed the pending bytes are rewritten unchanged; also drops `>` → `<`, which the SseUsageTap tests kill
        if (consumed > 0)
        {
            var rest = data[consumed..].ToArray();
            _pending.ResetWrittenCount();
            _pending.Write(rest);
        }

        if (_pending.WrittenCount > _maxEventBytes)
        {
            Overflowed = true; // an event this large is not an answer ModelMix will hold: drop it and stop
            // Stryker disable once Statement : equivalent (docs/testing.md, sse-usage): the next line empties the buffer anyway, and a reader that overflowed never reads again (Feed returns at once): this only zeroes memory
            _pending.Clear();
            // Stryker disable once Statement : equivalent (docs/testing.md, sse-usage): Clear() on the line above already emptied the buffer, and a reader that overflowed never reads again
            _pending.ResetWrittenCount();
        }
    }

    private static ReadOnlySpan<byte> DataOf(ReadOnlySpan<byte> block)
    {
        ReadOnlySpan<byte> data = default;
        foreach (var range in block.Split((byte)'\n'))
        {
            var line = block[range].TrimEnd((byte)'\r');
            if (line.StartsWith("data:"u8))
            {
                data = line[5..].TrimStart((byte)' ');
            }
        }

        return data;
    }

    private static int FindEventEnd(ReadOnlySpan<byte> data, out int separatorLength)
    {
        for (var i = 0; i < data.Length - 1; i++)
        {
            if (data[i] != (byte)'\n')
            {
                continue;
            }

            if (data[i + 1] == (byte)'\n')
            {
                separatorLength = 2;
                return i;
            }

            if (data[i + 1] == (byte)'\r' && i + 2 < data.Length && data[i + 2] == (byte)'\n')
            {
                separatorLength = 3;
                return i;
            }
        }

        separatorLength = 0;
        return -1;
    }
}
