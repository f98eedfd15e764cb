using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using ModelMix.Stores;

namespace ModelMix.Ledger;

/// <summary>
/// The SQLite ledger's attempt intent journal (docs/ledger.md, "Crash consistency"): append-only files in the folder
/// <c>&lt;database&gt;-intents</c> next to the database, one series of segment files per process instance. Registering
/// intents is one <c>write()</c> of their framed bytes at the end of the instance's current segment: when it returns
/// the bytes are in the operating system, as a SQLite commit in WAL mode with <c>synchronous=NORMAL</c> is, so a
/// <c>kill -9</c> loses none of them (an OS crash may lose the last ones, as it may lose the WAL's last commits). That
/// replaced a SQLite transaction per intent (shared-memory locks, a 4 KB WAL frame, a b-tree insert and the later
/// delete: most of the journal's per-request cost, docs/performance.md).
/// <para>
/// Nothing is written when an attempt completes: its record in the ledger is what completes it. The store tells this
/// journal which records a batch committed (<see cref="Complete"/>); a segment whose intents all completed is deleted
/// once the instance moved on to a newer one (every <see cref="RotateAfterBytes"/> or <see cref="RotateAfter"/>).
/// Reconciliation (<see cref="SqliteLedgerStore.ReconcileIntentsAsync"/>) reads the files of dead instances (by the
/// same heartbeat rule as the table's intents), writes an outcome_unknown record for every intent without a record
/// and deletes the files; a frame cut short by a crash during its <c>write()</c> (its request was never sent) fails
/// its checksum and ends the file's reading.
/// </para>
/// </summary>
internal sealed partial class SqliteIntentFiles : IDisposable
{
    /// <summary>A segment being written (or left by a process that may be dead).</summary>
    public const string SegmentSuffix = ".intents";

    /// <summary>A segment a sweep took from a dead instance: reconciled (again, idempotently) by any sweep.</summary>
    public const string TakenSuffix = ".reconciling";

    /// <summary>A segment this long is closed and a new one begun.</summary>
    internal const long RotateAfterBytes = 1 << 20;

    /// <summary>A segment this old is closed and a new one begun (so completed intents never linger for long).</summary>
    internal static readonly TimeSpan RotateAfter = TimeSpan.FromHours(1);

    private const int MaxFrame = 1 << 20;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, InstanceFiles> _instances = new(StringComparer.Ordinal);
    private readonly ILogger _logger;
    private InstanceFiles? _last;
    private InstanceFiles[] _all = [];
    private bool _disposed; // copy-on-write under _gate: read without it

    public SqliteIntentFiles(string databasePath, ILogger logger)
    {
        Folder = databasePath + "-intents";
        _logger = logger;
    }

    /// <summary>The folder of the segment files.</summary>
    public string Folder { get; }

    /// <summary>
    /// Appends <paramref name="intents"/> to <paramref name="instanceId"/>'s current segment in one <c>write()</c>; they
    /// are in the OS when this returns. A failed write leaves nothing registered (the next write overwrites its bytes).
    /// </summary>
    public void Append(string instanceId, IReadOnlyList<LedgerIntent> intents)
    {
        var files = For(instanceId);
        try
        {
            files.Append(intents);
        }
        catch (IOException exception)
        {
            throw new StoreUnavailableException("ledger.intent", "io", $"The intent journal could not write to '{Folder}': {exception.Message}", exception);
        }
        catch (UnauthorizedAccessException exception)
        {
            throw new StoreUnavailableException("ledger.intent", "io", $"The intent journal could not write to '{Folder}': {exception.Message}", exception);
        }
    }

    /// <summary>Marks the intents of <paramref name="records"/> (committed) as done; drained closed segments are deleted.</summary>
    public void Complete(IReadOnlyList<LedgerRecord> records)
    {
        if (records.Count == 0)
        {
            return;
        }

        foreach (var files in Volatile.Read(ref _all))
        {
            files.Complete(records);
        }
    }

    /// <summary>The reservation of the pending intent <paramref name="id"/> (any instance of this store), if any.</summary>
    public string? ReservationOf(string id)
    {
        foreach (var files in Volatile.Read(ref _all))
        {
            if (files.TryGetPending(id, out var intent))
            {
                return intent.ReservationId;
            }
        }

        return null;
    }

    /// <summary>
    /// After <paramref name="instanceId"/>'s heartbeat committed: if a sweep took its segments (it counted as dead, its
    /// heartbeat having gone stale while it lived), writes its pending intents again into a new segment, so they stay
    /// known should it die later. Returns how many were written again.
    /// </summary>
    public int Recover(string instanceId)
    {
        InstanceFiles? files;
        lock (_gate)
        {
            _instances.TryGetValue(instanceId, out files);
        }

        try
        {
            var again = files?.RecoverIfTaken() ?? 0;
            if (again > 0)
            {
                Rejournaled(_logger, again);
            }

            return again;
        }
        catch (IOException exception)
        {
            throw new StoreUnavailableException("ledger.intent", "io", $"The intent journal could not write to '{Folder}': {exception.Message}", exception);
        }
    }

    /// <summary>Closes the segments; deletes those whose intents all completed (the others wait for reconciliation).</summary>
    public void Dispose()
    {
        InstanceFiles[] all;
        lock (_gate)
        {
            all = [.. _instances.Values];
            _instances.Clear();
            _last = null;
            _disposed = true;
            Volatile.Write(ref _all, []);
        }

        foreach (var files in all)
        {
            files.Close();
        }
    }

    /// <summary>The segment files in the folder, with the instance each belongs to and whether a sweep already took it.</summary>
    public IEnumerable<(string Path, string InstanceId, bool Taken)> ListSegments()
    {
        string[] paths;
        try
        {
            paths = Directory.GetFiles(Folder);
        }
        catch (DirectoryNotFoundException)
        {
            yield break;
        }

        foreach (var path in paths)
        {
            var name = System.IO.Path.GetFileName(path);
            var taken = name.EndsWith(TakenSuffix, StringComparison.Ordinal);
            if (!taken && !name.EndsWith(SegmentSuffix, StringComparison.Ordinal))
            {
                continue;
            }

            if (DecodeInstance(name) is { } instanceId)
            {
                yield return (path, instanceId, taken);
            }
        }
    }

    /// <summary>Reads the intents of a segment, up to its end or the first frame cut short (missing file: none).</summary>
    public static List<LedgerIntent> Read(string path)
    {
        var intents = new List<LedgerIntent>();
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            return intents;
        }

        var at = 0;
        while (bytes.Length - at >= 8)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at));
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 4));
            if (length <= 0 || length > MaxFrame || bytes.Length - at - 8 < length)
            {
                break;
            }

            var payload = bytes.AsSpan(at + 8, length);
            if (Crc(payload) != crc)
            {
                break;
            }

            intents.Add(Decode(payload));
            at += 8 + length;
        }

        return intents;
    }

    private InstanceFiles For(string instanceId)
    {
        var last = _last;
        if (last is not null && string.Equals(last.InstanceId, instanceId, StringComparison.Ordinal))
        {
            return last;
        }

        lock (_gate)
        {
            if (!_instances.TryGetValue(instanceId, out var files))
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                files = new InstanceFiles(Folder, instanceId);
                _instances.Add(instanceId, files);
                Volatile.Write(ref _all, [.. _all, files]);
            }

            _last = files;
            return files;
        }
    }

    private static string EncodeInstance(string instanceId) => Convert.ToHexStringLower(Encoding.UTF8.GetBytes(instanceId));

    /// <summary><c>&lt;hex of the instance id&gt;.&lt;segment&gt;.intents</c> (or <c>.reconciling</c>) → the instance id.</summary>
    private static string? DecodeInstance(string fileName)
    {
        var dot = fileName.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot % 2 != 0)
        {
            return null;
        }

        try
        {
            return Encoding.UTF8.GetString(Convert.FromHexString(fileName.AsSpan(0, dot)));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static uint Crc(ReadOnlySpan<byte> bytes)
    {
        var crc = 0xFFFFFFFFu;
        var i = 0;
        for (; i + 8 <= bytes.Length; i += 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(bytes[i..]));
        }

        for (; i < bytes.Length; i++)
        {
            crc = BitOperations.Crc32C(crc, bytes[i]);
        }

        return ~crc;
    }

    private static LedgerIntent Decode(ReadOnlySpan<byte> payload)
    {
        var at = 0;
        var id = String(payload, ref at)!;
        var createdAt = new DateTimeOffset(Int64(payload, ref at), TimeSpan.Zero);
        return new LedgerIntent
        {
            Id = id,
            CreatedAt = createdAt,
            ReservationId = String(payload, ref at),
            RequestId = String(payload, ref at)!,
            KeyId = String(payload, ref at),
            SessionId = String(payload, ref at),
            TaskLabel = String(payload, ref at),
            RequestedModel = String(payload, ref at)!,
            RoutedModel = String(payload, ref at)!,
            Policy = String(payload, ref at),
            Attempt = (int)Int64(payload, ref at),
            EscalatedFrom = String(payload, ref at),
            Effort = String(payload, ref at),
            EffortIsDefault = Int64(payload, ref at) != 0,
            Streaming = Int64(payload, ref at) != 0,
            ShadowPairId = String(payload, ref at),
            InputTokens = Int64(payload, ref at),
            OutputTokens = Int64(payload, ref at),
        };
    }

    private static long Int64(ReadOnlySpan<byte> payload, ref int at)
    {
        var value = BinaryPrimitives.ReadInt64LittleEndian(payload[at..]);
        at += 8;
        return value;
    }

    private static string? String(ReadOnlySpan<byte> payload, ref int at)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(payload[at..]);
        at += 4;
        if (length < 0)
        {
            return null;
        }

        var value = Encoding.UTF8.GetString(payload.Slice(at, length));
        at += length;
        return value;
    }

    [LoggerMessage(EventId = 4010, Level = LogLevel.Warning, Message = "A sweep took this process's intent journal (its heartbeat had gone stale while it ran); {Count} pending intent(s) were written again to a new segment.")]
    private static partial void Rejournaled(ILogger logger, int count);

    private sealed class Segment(string path, SafeFileHandle handle, long openedAt)
    {
        public string Path { get; } = path;

        public SafeFileHandle? Handle { get; set; } = handle;

        public long OpenedAt { get; } = openedAt;

        public long Length { get; set; }

        public int Pending { get; set; }

        public bool Closed { get; set; }
    }

    /// <summary>One instance's segments and the intents of it still pending (guarded by its own lock).</summary>
    private sealed class InstanceFiles(string folder, string instanceId)
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<string, (LedgerIntent Intent, Segment Segment)> _pending = new(StringComparer.Ordinal);
        private readonly List<Segment> _closed = [];
        private readonly string _prefix = EncodeInstance(instanceId);
        private Segment? _current;
        private List<string>? _drained; // drained segments to delete once the lock is released (guarded by _gate)
        private int _next;
        private byte[] _buffer = new byte[1024];

        public string InstanceId { get; } = instanceId;

        public void Append(IReadOnlyList<LedgerIntent> intents)
        {
            List<string>? drained;
            lock (_gate)
            {
                var segment = _current;
                if (segment is null || segment.Length >= RotateAfterBytes || Elapsed(segment) >= RotateAfter)
                {
                    segment = Rotate();
                }

                var length = 0;
                for (var i = 0; i < intents.Count; i++)
                {
                    length = Encode(intents[i], length);
                }

                RandomAccess.Write(segment.Handle!, _buffer.AsSpan(0, length), segment.Length);
                segment.Length += length;
                for (var i = 0; i < intents.Count; i++)
                {
                    Track(intents[i], segment);
                }

                drained = TakeDrained();
            }

            DeleteAll(drained);
        }

        public void Complete(IReadOnlyList<LedgerRecord> records)
        {
            List<string>? drained;
            lock (_gate)
            {
                if (_pending.Count == 0)
                {
                    return;
                }

                for (var i = 0; i < records.Count; i++)
                {
                    if (_pending.Remove(records[i].Id, out var entry))
                    {
                        Release(entry.Segment);
                    }
                }

                drained = TakeDrained();
            }

            DeleteAll(drained);
        }

        /// <summary>
        /// The drained segments <see cref="Release"/> and <see cref="Rotate"/> set aside (call under the lock); the caller
        /// deletes them (<see cref="DeleteAll"/>) once it has released the lock: the unlink of a segment's last link frees
        /// its pages (a megabyte), and requests appending intents — on the socket event thread — must not wait behind it.
        /// </summary>
        private List<string>? TakeDrained()
        {
            var drained = _drained;
            _drained = null;
            return drained;
        }

        private static void DeleteAll(List<string>? paths)
        {
            if (paths is not null)
            {
                foreach (var path in paths)
                {
                    DeleteQuietly(path);
                }
            }
        }

        public bool TryGetPending(string id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out LedgerIntent? intent)
        {
            lock (_gate)
            {
                var found = _pending.TryGetValue(id, out var entry);
                intent = entry.Intent;
                return found;
            }
        }

        public int RecoverIfTaken()
        {
            lock (_gate)
            {
                if (_current is null || File.Exists(_current.Path))
                {
                    return 0;
                }

                // A sweep renamed every segment of this instance (and reconciles them): forget them all, start anew.
                foreach (var segment in _closed)
                {
                    segment.Pending = 0;
                }

                _closed.Clear();
                _current.Handle?.Dispose();
                _current.Handle = null;
                _current.Pending = 0;
                _current = null;
                if (_pending.Count == 0)
                {
                    return 0;
                }

                var again = _pending.Values.Select(entry => entry.Intent).ToList();
                _pending.Clear();
                var fresh = Rotate();
                var length = 0;
                foreach (var intent in again)
                {
                    length = Encode(intent, length);
                }

                RandomAccess.Write(fresh.Handle!, _buffer.AsSpan(0, length), fresh.Length);
                fresh.Length += length;
                foreach (var intent in again)
                {
                    Track(intent, fresh);
                }

                return again.Count;
            }
        }

        public void Close()
        {
            List<string>? drained;
            lock (_gate)
            {
                if (_current is { } current)
                {
                    _current = null;
                    current.Closed = true;
                    current.Handle?.Dispose();
                    current.Handle = null;
                    if (current.Pending == 0)
                    {
                        File.Delete(current.Path);
                    }
                }

                drained = TakeDrained();
            }

            DeleteAll(drained);
        }

        private static TimeSpan Elapsed(Segment segment) => TimeSpan.FromMilliseconds(Environment.TickCount64 - segment.OpenedAt);

        private void Track(LedgerIntent intent, Segment segment)
        {
            if (_pending.Remove(intent.Id, out var previous))
            {
                Release(previous.Segment);
            }

            _pending.Add(intent.Id, (intent, segment));
            segment.Pending++;
        }

        private void Release(Segment segment)
        {
            if (--segment.Pending == 0 && segment.Closed)
            {
                _closed.Remove(segment);
                (_drained ??= []).Add(segment.Path); // deleted once the lock is released (TakeDrained)
            }
        }

        /// <summary>Closes the current segment (deleted if drained, else kept until it drains) and opens the next.</summary>
        private Segment Rotate()
        {
            if (_current is { } old)
            {
                old.Closed = true;
                old.Handle?.Dispose();
                old.Handle = null;
                if (old.Pending == 0)
                {
                    (_drained ??= []).Add(old.Path); // deleted once the lock is released (TakeDrained)
                }
                else
                {
                    _closed.Add(old);
                }

                _current = null;
            }

            Directory.CreateDirectory(folder);
            while (true)
            {
                var path = System.IO.Path.Combine(folder, $"{_prefix}.{_next++.ToString("D6", CultureInfo.InvariantCulture)}{SegmentSuffix}");
                try
                {
                    var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                    return _current = new Segment(path, handle, Environment.TickCount64);
                }
                catch (IOException) when (File.Exists(path))
                {
                    // Left by an earlier store of this instance id: take the next number.
                }
            }
        }

        private static void DeleteQuietly(string path)
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
                // Left for the next sweep (its intents all have records: nothing to reconcile).
            }
            catch (UnauthorizedAccessException)
            {
                // As above.
            }
        }

        /// <summary>Frames <paramref name="intent"/> at <paramref name="at"/> in the buffer; returns the end.</summary>
        private int Encode(LedgerIntent intent, int at)
        {
            var max = 8 + (8 * 6) + (4 * 13) + Bytes(intent.Id) + Bytes(intent.ReservationId) + Bytes(intent.RequestId) +
                Bytes(intent.KeyId) + Bytes(intent.SessionId) + Bytes(intent.TaskLabel) + Bytes(intent.RequestedModel) +
                Bytes(intent.RoutedModel) + Bytes(intent.Policy) + Bytes(intent.EscalatedFrom) + Bytes(intent.Effort) +
                Bytes(intent.ShadowPairId);
            if (at + max > _buffer.Length)
            {
                Array.Resize(ref _buffer, Math.Max(at + max, _buffer.Length * 2));
            }

            var span = _buffer.AsSpan();
            var start = at;
            at += 8;
            at = Put(span, at, intent.Id);
            at = Put(span, at, intent.CreatedAt.UtcTicks);
            at = Put(span, at, intent.ReservationId);
            at = Put(span, at, intent.RequestId);
            at = Put(span, at, intent.KeyId);
            at = Put(span, at, intent.SessionId);
            at = Put(span, at, intent.TaskLabel);
            at = Put(span, at, intent.RequestedModel);
            at = Put(span, at, intent.RoutedModel);
            at = Put(span, at, intent.Policy);
            at = Put(span, at, intent.Attempt);
            at = Put(span, at, intent.EscalatedFrom);
            at = Put(span, at, intent.Effort);
            at = Put(span, at, intent.EffortIsDefault ? 1 : 0);
            at = Put(span, at, intent.Streaming ? 1 : 0);
            at = Put(span, at, intent.ShadowPairId);
            at = Put(span, at, intent.InputTokens);
            at = Put(span, at, intent.OutputTokens);
            var length = at - start - 8;
            BinaryPrimitives.WriteInt32LittleEndian(span[start..], length);
            BinaryPrimitives.WriteUInt32LittleEndian(span[(start + 4)..], Crc(span.Slice(start + 8, length)));
            return at;
        }

        private static int Bytes(string? value) => value is null ? 0 : Encoding.UTF8.GetMaxByteCount(value.Length);

        private static int Put(Span<byte> span, int at, long value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[at..], value);
            return at + 8;
        }

        private static int Put(Span<byte> span, int at, string? value)
        {
            if (value is null)
            {
                BinaryPrimitives.WriteInt32LittleEndian(span[at..], -1);
                return at + 4;
            }

            var written = Encoding.UTF8.GetBytes(value, span[(at + 4)..]);
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], written);
            return at + 4 + written;
        }
    }
}
