using System.Text;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>How the proxy reads a buffered upstream answer (UpstreamSender.ReadAnswerAsync).</summary>
public sealed class AnswerReadTests
{
    private static readonly byte[] Answer = Encoding.UTF8.GetBytes("""{"type":"message","content":[{"type":"text","text":"héllo"}]}""");

    [Fact]
    public async Task Answer_with_a_content_length_is_read_whole()
    {
        using var content = new StreamContent(new MemoryStream(Answer));
        content.Headers.ContentLength = Answer.Length;

        Assert.Equal(Answer, await UpstreamSender.ReadAnswerAsync(content, CancellationToken.None));
    }

    [Fact]
    public async Task Answer_without_a_content_length_is_read_whole()
    {
        using var content = new StreamContent(new ChunkedStream(Answer));
        Assert.Null(content.Headers.ContentLength);

        Assert.Equal(Answer, await UpstreamSender.ReadAnswerAsync(content, CancellationToken.None));
    }

    [Fact]
    public async Task Answer_shorter_than_its_content_length_fails()
    {
        using var content = new StreamContent(new MemoryStream(Answer, 0, 20));
        content.Headers.ContentLength = Answer.Length;

        await Assert.ThrowsAnyAsync<IOException>(async () => await UpstreamSender.ReadAnswerAsync(content, CancellationToken.None));
    }

    [Fact]
    public async Task Empty_answer_is_an_empty_array()
    {
        using var content = new StreamContent(new MemoryStream());
        content.Headers.ContentLength = 0;

        Assert.Empty(await UpstreamSender.ReadAnswerAsync(content, CancellationToken.None));
    }

    /// <summary>A stream that hands out at most 7 bytes per read and cannot tell its length, like a chunked body.</summary>
    private sealed class ChunkedStream(byte[] data) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, 7), data.Length - _position);
            Array.Copy(data, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
