using System.Buffers;
using System.Text.Json;

namespace ModelMix.Server;

/// <summary>
/// Checks the first event of an upstream event stream before anything is relayed, so a stream that starts malformed
/// (or ends before its first event) is a failed, retryable attempt instead of broken bytes the client already has.
/// The bytes read stay in the response: its content is replaced by one that yields them again, then the rest.
/// </summary>
internal static class StreamStart
{
    /// <summary>The most read while looking for the end of the first event; a longer first event counts as malformed.</summary>
    private const int MaxFirstEventBytes = 256 * 1024;

    /// <summary>
    /// Reads <paramref name="response"/>'s first event (up to its blank line); true when its <c>data</c> is a JSON
    /// object with a <c>type</c>. Either way the response's content afterwards starts from the first byte again.
    /// </summary>
    public static async Task<bool> PeekFirstEventAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var original = response.Content;
        var source = await original.ReadAsStreamAsync(cancellationToken);
        var read = new ArrayBufferWriter<byte>(4096);
        int end;
        while ((end = EndOfFirstEvent(read.WrittenSpan)) < 0 && read.WrittenCount < MaxFirstEventBytes)
        {
            var n = await source.ReadAsync(read.GetMemory(4096), cancellationToken);
            if (n == 0)
            {
                break;
            }

            read.Advance(n);
        }

        var prefix = read.WrittenMemory.ToArray();
        var content = new StreamContent(new PrefixedStream(prefix, source));
        foreach (var (name, values) in original.Headers)
        {
            content.Headers.TryAddWithoutValidation(name, values);
        }

        response.Content = content;
        return end >= 0 && IsWellFormed(prefix.AsSpan(0, end));
    }

    /// <summary>The length of the first event including its blank line, or -1 when it has not ended yet.</summary>
    private static int EndOfFirstEvent(ReadOnlySpan<byte> bytes)
    {
        var lf = bytes.IndexOf("\n\n"u8);
        var crlf = bytes.IndexOf("\r\n\r\n"u8);
        return (lf, crlf) switch
        {
            (< 0, < 0) => -1,
            (>= 0, < 0) => lf + 2,
            (< 0, >= 0) => crlf + 4,
            _ => Math.Min(lf + 2, crlf + 4),
        };
    }

    private static bool IsWellFormed(ReadOnlySpan<byte> sseEvent)
    {
        var data = new ArrayBufferWriter<byte>(sseEvent.Length);
        foreach (var range in sseEvent.Split((byte)'\n'))
        {
            var line = sseEvent[range].TrimEnd((byte)'\r');
            if (line.StartsWith("data:"u8))
            {
                if (data.WrittenCount > 0)
                {
                    data.Write("\n"u8);
                }

                data.Write(line[5..].TrimStart((byte)' '));
            }
        }

        try
        {
            using var document = JsonDocument.Parse(data.WrittenMemory);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>A read-only stream that yields <c>prefix</c>, then the rest of <c>inner</c>.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream inner) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_position < prefix.Length)
            {
                var n = Math.Min(buffer.Length, prefix.Length - _position);
                prefix.AsSpan(_position, n).CopyTo(buffer);
                _position += n;
                return n;
            }

            return inner.Read(buffer);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position < prefix.Length)
            {
                var n = Math.Min(buffer.Length, prefix.Length - _position);
                prefix.AsSpan(_position, n).CopyTo(buffer.Span);
                _position += n;
                return ValueTask.FromResult(n);
            }

            return inner.ReadAsync(buffer, cancellationToken);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
