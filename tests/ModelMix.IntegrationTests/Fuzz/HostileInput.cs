using System.Text;
using System.Text.Json;
using CsCheck;

namespace ModelMix.IntegrationTests.Fuzz;

/// <summary>
/// Generators of hostile request bodies for the two request parsers: valid Anthropic Messages and OpenAI Chat
/// Completions bodies with fields dropped, duplicated or given wrong-typed, huge, negative, deeply nested or
/// Unicode-edge values, then (sometimes) damaged at the byte level: truncated, bytes flipped, invalid UTF-8 inserted,
/// a BOM prefixed, or replaced by random bytes.
/// </summary>
internal static class HostileInput
{
    /// <summary>The environment variable that sets the number of cases per property (default <see cref="DefaultIterations"/>).</summary>
    public const string IterationsVariable = "MODELMIX_FUZZ_ITERATIONS";

    public const int DefaultIterations = 3000;

    /// <summary>Cases per in-process property: <c>MODELMIX_FUZZ_ITERATIONS</c>, or 3,000 (CI).</summary>
    public static int Iterations =>
        int.TryParse(Environment.GetEnvironmentVariable(IterationsVariable), out var n) && n > 0 ? n : DefaultIterations;

    /// <summary>Cases per endpoint over HTTP: a tenth of <see cref="Iterations"/> (300 in CI), at least 50.</summary>
    public static int HttpIterations => Math.Max(50, Iterations / 10);

    /// <summary>A fixed seed unless <c>MODELMIX_FUZZ_SEED</c> names one (CsCheck seed format), so CI is repeatable.</summary>
    public static string? Seed => Environment.GetEnvironmentVariable("MODELMIX_FUZZ_SEED");

    private static readonly string[] Models = ["claude-haiku-4-5", "claude-sonnet-4-5", "auto", "auto-cheap"];

    /// <summary>Deep nesting: arrays or objects 1 to 1,000 levels deep (the parsers stop at 128).</summary>
    private static readonly Gen<string> Deep =
        Gen.Select(Gen.Frequency((3, Gen.Int[1, 140]), (1, Gen.Int[140, 1000])), Gen.Bool, (depth, array) => array
            ? new string('[', depth) + new string(']', depth)
            : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth));

    /// <summary>Text with Unicode edges, JSON-escaped (including escaped lone surrogates and NULs).</summary>
    private static readonly Gen<string> StringValue = Gen.Frequency(
        (6, Gen.OneOf<string>("\"hi\"", "\"Hello, world\"", "\"\"", "\" \"", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00x\"", "\"a\\ud83dz\"",
            "\"\\ud83d\\ude00\"", "\"😀 emoji\"", "\"\\uFEFF\"", "\"\\u202E rtl\"", "\"e\\u0301\"", "\"\\\\\"", "\"\\\"\"", "\"\\x\"", "\"\\u12\"",
            "\"\u0000raw\"", "\"line\nbreak\"")),
        (3, Gen.Char.Array[0, 40].Select(chars => JsonSerializer.Serialize(new string(chars)))),
        (1, Gen.Int[1_000, 200_000].Select(n => "\"" + new string('x', n) + "\"")));

    /// <summary>Numbers at the edges, and tokens that look like numbers but are not JSON.</summary>
    private static readonly Gen<string> NumberValue = Gen.OneOf<string>(
        "0", "-1", "1", "10", "1024", "-0", "1.0", "1.5", "1e3", "1e400", "-1e400", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "2147483648", "99999999999999999999999999999", "0.0000001", "NaN", "Infinity", "-Infinity", "01", "+1", ".5", "1.",
        "0x10");

    /// <summary>A value of any JSON type (and some non-JSON tokens).</summary>
    private static readonly Gen<string> AnyValue = Gen.Frequency(
        (3, StringValue), (3, NumberValue), (2, Gen.OneOf<string>("true", "false", "null", "[]", "{}", "[null]", "{\"\":null}", "undefined", "'single'")),
        (1, Deep));

    private static string Text() => "\"Summarise the attached report in three bullet points.\"";

    // ---------- Anthropic Messages ----------

    private static readonly Gen<string> AnthropicBlock = Gen.Frequency(
        (4, StringValue.Select(text => $"{{\"type\":\"text\",\"text\":{text}}}")),
        (1, Gen.Const("{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}}")),
        (1, Gen.Const("{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"42\"}")),
        (1, AnyValue));

    private static readonly Gen<string> AnthropicContent = Gen.Frequency(
        (4, StringValue),
        (3, AnthropicBlock.Array[0, 4].Select(blocks => "[" + string.Join(",", blocks) + "]")),
        (1, AnyValue));

    private static readonly Gen<string> AnthropicMessage = Gen.Frequency(
        (8, Gen.Select(Gen.OneOf<string>("\"user\"", "\"assistant\""), AnthropicContent, (role, content) => $"{{\"role\":{role},\"content\":{content}}}")),
        (1, Gen.Select(AnyValue, AnyValue, (role, content) => $"{{\"role\":{role},\"content\":{content}}}")),
        (1, AnyValue));

    private static readonly Gen<string> AnthropicMessages = Gen.Frequency(
        (8, AnthropicMessage.Array[1, 5].Select(messages => "[" + string.Join(",", messages) + "]")),
        (1, Gen.Const("[]")),
        (1, AnyValue));

    /// <summary>A top-level field: usually its valid value, sometimes a hostile one, sometimes absent.</summary>
    private static Gen<string?> Field(string name, Gen<string> valid, int absentWeight = 1) => Gen.Frequency(
        (8, valid.Select(v => (string?)$"\"{name}\":{v}")),
        (2, AnyValue.Select(v => (string?)$"\"{name}\":{v}")),
        (absentWeight, Gen.Const((string?)null)));

    /// <summary>An Anthropic Messages body as JSON text (before any byte-level damage).</summary>
    public static readonly Gen<string> AnthropicJson = Gen.Select(
        Gen.Select(
            Field("model", Gen.OneOf<string>(Models).Select(m => $"\"{m}\"")),
            Field("max_tokens", Gen.Frequency((6, Gen.Int[1, 4096].Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))), (2, NumberValue))),
            Field("messages", AnthropicMessages),
            Field("stream", Gen.OneOf<string>("true", "false", "null"), absentWeight: 6),
            Field("system", Gen.OneOf(StringValue, AnthropicBlock.Array[0, 3].Select(b => "[" + string.Join(",", b) + "]")), absentWeight: 6)),
        Gen.Select(
            Field("tools", Gen.Const("[{\"name\":\"lookup\",\"description\":\"d\",\"input_schema\":{\"type\":\"object\"}}]"), absentWeight: 8),
            Field("tool_choice", Gen.OneOf<string>("{\"type\":\"auto\"}", "{\"type\":\"any\"}", "{\"type\":\"tool\",\"name\":\"lookup\"}"), absentWeight: 8),
            Field("output_config", Gen.Const("{\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":\"object\"}}}"), absentWeight: 10),
            Gen.Frequency((6, Gen.Const((string?)null)), (1, Gen.Select(Gen.OneOf<string>("model", "mod\\u0065l", "max_tokens", "messages", "stream"), AnyValue, (k, v) => (string?)$"\"{k}\":{v}"))),
            Gen.Frequency((6, Gen.Const((string?)null)), (1, Gen.Select(StringValue, AnyValue, (k, v) => (string?)$"{k}:{v}")))),
        Gen.Int[0, int.MaxValue],
        (a, b, shuffleSeed) => JoinObject([a.Item1, a.Item2, a.Item3, a.Item4, a.Item5, b.Item1, b.Item2, b.Item3, b.Item4, b.Item5], shuffleSeed));

    // ---------- OpenAI Chat Completions ----------

    /// <summary>A JSON value as the text of a JSON string (tool call arguments are JSON inside a string).</summary>
    private static readonly Gen<string> ArgumentsValue = Gen.Frequency(
        (4, Gen.OneOf<string>("{}", "{\"city\":\"Paris\"}", "", " ", "[1,2]", "42", "null", "{bad json", "{\"a\":\"\\ud800\"}")),
        (2, Deep),
        (1, AnyValue)).Select(raw => JsonSerializer.Serialize(raw));

    private static readonly Gen<string> OpenAiPart = Gen.Frequency(
        (5, StringValue.Select(text => $"{{\"type\":\"text\",\"text\":{text}}}")),
        (1, Gen.OneOf<string>(
            "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}",
            "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}",
            "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:,\"}}",
            "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:;base64\"}}",
            "{\"type\":\"image_url\",\"image_url\":{\"url\":\"ftp://x\"}}",
            "{\"type\":\"image_url\",\"image_url\":\"https://example.com/a.png\"}",
            "{\"type\":\"refusal\",\"refusal\":\"no\"}",
            "{\"type\":\"input_audio\"}")),
        (1, AnyValue));

    private static readonly Gen<string> OpenAiContent = Gen.Frequency(
        (5, StringValue),
        (3, OpenAiPart.Array[0, 4].Select(parts => "[" + string.Join(",", parts) + "]")),
        (1, AnyValue));

    private static readonly Gen<string> ToolCall = Gen.Frequency(
        (6, Gen.Select(StringValue, StringValue, ArgumentsValue, (id, name, args) =>
            $"{{\"id\":{id},\"type\":\"function\",\"function\":{{\"name\":{name},\"arguments\":{args}}}}}")),
        (1, AnyValue));

    private static readonly Gen<string> OpenAiMessage = Gen.Frequency(
        (5, Gen.Select(Gen.OneOf<string>("\"user\"", "\"system\"", "\"developer\"", "\"assistant\""), OpenAiContent,
            (role, content) => $"{{\"role\":{role},\"content\":{content}}}")),
        (2, Gen.Select(Gen.OneOf<string>("null", "\"\"", "\"Calling the tool.\""), ToolCall.Array[0, 3],
            (content, calls) => $"{{\"role\":\"assistant\",\"content\":{content},\"tool_calls\":[{string.Join(",", calls)}]}}")),
        (2, Gen.Select(StringValue, OpenAiContent, (id, content) => $"{{\"role\":\"tool\",\"tool_call_id\":{id},\"content\":{content}}}")),
        (1, Gen.Select(AnyValue, AnyValue, (role, content) => $"{{\"role\":{role},\"content\":{content}}}")),
        (1, AnyValue));

    private static readonly Gen<string> OpenAiMessages = Gen.Frequency(
        (8, Gen.Select(Gen.Const("{\"role\":\"user\",\"content\":" + Text() + "}"), OpenAiMessage.Array[0, 5],
            (first, rest) => "[" + string.Join(",", rest.Prepend(first)) + "]")),
        (2, OpenAiMessage.Array[0, 4].Select(messages => "[" + string.Join(",", messages) + "]")),
        (1, AnyValue));

    /// <summary>A JSON Schema for tool parameters or a response format: small, or nested up to 200 levels.</summary>
    private static readonly Gen<string> Schema = Gen.Frequency(
        (4, Gen.Const("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}")),
        (2, Gen.Int[1, 200].Select(depth => string.Concat(Enumerable.Repeat("{\"properties\":{\"a\":", depth)) + "{}" + string.Concat(Enumerable.Repeat("}}", depth)))),
        (1, AnyValue));

    private static readonly Gen<string> OpenAiTools = Gen.Select(StringValue, Schema, AnyValue.Array[0, 1], (name, schema, extra) =>
        $"[{{\"type\":\"function\",\"function\":{{\"name\":{name},\"description\":\"d\",\"parameters\":{schema}}}}}{string.Concat(extra.Select(e => "," + e))}]");

    /// <summary>An OpenAI Chat Completions body as JSON text (before any byte-level damage).</summary>
    public static readonly Gen<string> OpenAiJson = Gen.Select(
        Gen.Select(
            Field("model", Gen.OneOf<string>(Models).Select(m => $"\"{m}\"")),
            Field("messages", OpenAiMessages),
            Field("max_completion_tokens", Gen.Frequency((4, Gen.Int[1, 4096].Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))), (2, NumberValue)), absentWeight: 4),
            Field("max_tokens", Gen.Frequency((4, Gen.Int[1, 4096].Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))), (2, NumberValue)), absentWeight: 4),
            Field("stream", Gen.OneOf<string>("true", "false", "null"), absentWeight: 6),
            Field("stream_options", Gen.OneOf<string>("{\"include_usage\":true}", "{\"include_usage\":\"yes\"}", "{}"), absentWeight: 8)),
        Gen.Select(
            Field("tools", OpenAiTools, absentWeight: 4),
            Field("tool_choice", Gen.OneOf<string>("\"auto\"", "\"none\"", "\"required\"", "\"sometimes\"", "{\"type\":\"function\",\"function\":{\"name\":\"lookup\"}}", "{\"type\":\"function\"}"), absentWeight: 6),
            Field("parallel_tool_calls", Gen.OneOf<string>("true", "false"), absentWeight: 8),
            Field("response_format", Gen.OneOf(
                Gen.OneOf<string>("{\"type\":\"text\"}", "{\"type\":\"json_object\"}", "{\"type\":\"json_schema\"}", "{\"type\":\"xml\"}"),
                Schema.Select(s => $"{{\"type\":\"json_schema\",\"json_schema\":{{\"name\":\"r\",\"schema\":{s}}}}}")), absentWeight: 6),
            Field("stop", Gen.OneOf<string>("\"END\"", "[\"a\",\"b\"]", "[\" \"]", "[1]", "\"\""), absentWeight: 8),
            Field("temperature", NumberValue, absentWeight: 6)),
        Gen.Select(
            Field("top_p", NumberValue, absentWeight: 8),
            Field("n", Gen.OneOf<string>("1", "2", "1.0"), absentWeight: 8),
            Field("user", StringValue, absentWeight: 8),
            Field("functions", Gen.Const("[]"), absentWeight: 20),
            Gen.Frequency((6, Gen.Const((string?)null)), (1, Gen.Select(Gen.OneOf<string>("model", "messages", "max_tokens", "stream", "tools"), AnyValue, (k, v) => (string?)$"\"{k}\":{v}")))),
        Gen.Int[0, int.MaxValue],
        (a, b, c, shuffleSeed) => JoinObject(
            [a.Item1, a.Item2, a.Item3, a.Item4, a.Item5, a.Item6, b.Item1, b.Item2, b.Item3, b.Item4, b.Item5, b.Item6, c.Item1, c.Item2, c.Item3, c.Item4, c.Item5],
            shuffleSeed));

    // ---------- Byte-level damage ----------

    /// <summary>
    /// The body's UTF-8 bytes, usually intact, otherwise truncated at a random byte, with a byte flipped, invalid
    /// UTF-8 or a BOM inserted, a top-level value turned into a non-JSON token, or random bytes instead.
    /// </summary>
    public static Gen<byte[]> Damaged(Gen<string> json) => Gen.Select(json, Gen.Int[0, 99], Gen.Int[0, int.MaxValue], Gen.Byte.Array[0, 64], (text, dice, position, noise) =>
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var at = bytes.Length == 0 ? 0 : position % bytes.Length;
        return dice switch
        {
            < 55 => bytes,
            < 65 => bytes[..at],
            < 72 => Flip(bytes, at, noise),
            < 79 => Insert(bytes, at, InvalidUtf8[position % InvalidUtf8.Length]),
            < 84 => [0xEF, 0xBB, 0xBF, .. bytes],
            < 89 => Insert(bytes, at, noise),
            < 94 => noise,
            < 97 => [],
            _ => Encoding.UTF8.GetBytes(text + text),
        };
    });

    private static readonly byte[][] InvalidUtf8 =
    [
        [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0x00],
    ];

    private static byte[] Flip(byte[] bytes, int at, byte[] noise)
    {
        if (bytes.Length == 0)
        {
            return bytes;
        }

        var copy = (byte[])bytes.Clone();
        copy[at] = noise.Length > 0 ? noise[0] : (byte)'"';
        return copy;
    }

    private static byte[] Insert(byte[] bytes, int at, byte[] extra) => [.. bytes.AsSpan(0, at), .. extra, .. bytes.AsSpan(at)];

    private static string JoinObject(string?[] fields, int shuffleSeed)
    {
        var present = fields.Where(f => f is not null).ToArray();
        new Random(shuffleSeed).Shuffle(present);
        return "{" + string.Join(",", present) + "}";
    }

    /// <summary>Shows a failing case compactly (long cases are cut; the bytes are shown as escaped UTF-8).</summary>
    public static string Print(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body);
        return text.Length > 600 ? text[..600] + $"… ({body.Length} bytes)" : text;
    }
}
