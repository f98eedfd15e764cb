using System.Security.Cryptography;

namespace FakeAnthropic;

/// <summary>Fresh ids shaped like the API's: a prefix and a base58 tail of fixed length.</summary>
internal static class WireIds
{
    private const string Base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    /// <summary><c>req_011C…</c>, 28 characters.</summary>
    public static string NewRequestId() => "req_011C" + Tail(20);

    /// <summary><c>msg_01…</c>, 28 characters.</summary>
    public static string NewMessageId() => "msg_01" + Tail(22);

    /// <summary><c>msgbatch_01…</c>, 33 characters.</summary>
    public static string NewBatchId() => "msgbatch_01" + Tail(22);

    private static string Tail(int length) => RandomNumberGenerator.GetString(Base58, length);
}
