namespace FakeAnthropic;

/// <summary>Faults of a JSON answer that break the connection part-way (the stream equivalent is <see cref="WithCutAfterEvents"/>).</summary>
public sealed partial record FakeReply
{
    /// <summary>For JSON answers: the number of body bytes sent (with the full <c>content-length</c>) before the connection is aborted, or null.</summary>
    public int? CutBodyAfterBytes { get; private init; }

    /// <summary>
    /// Sends the status, the headers (announcing the whole body) and the first <paramref name="bytes"/> bytes of a JSON
    /// answer, then aborts the connection: the client sees a 200 whose body never completes.
    /// </summary>
    public FakeReply WithCutBodyAfterBytes(int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (Kind is FakeReplyKind.Stream or FakeReplyKind.Error)
        {
            throw new InvalidOperationException($"WithCutBodyAfterBytes applies to JSON message replies, not {Kind}.");
        }

        return this with { CutBodyAfterBytes = bytes };
    }

    /// <summary>Bytes of filler text added to the answer (a misbehaving, oversized upstream), or 0.</summary>
    public int PaddingBytes { get; private init; }

    /// <summary>
    /// Makes the answer <paramref name="bytes"/> bytes of filler text longer: a JSON answer's first text block grows,
    /// and a stream gets one extra <c>text_delta</c> event carrying it (right after the first <c>content_block_start</c>).
    /// </summary>
    public FakeReply WithPadding(int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        return this with { PaddingBytes = bytes };
    }
}
