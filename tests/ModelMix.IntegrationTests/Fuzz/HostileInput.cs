using System.Text;
using System.Text.Json;
using CsCheck;

namespace ModelMix.IntegrationTests.Fuzz;

/// <summary>
/// Generators of hostile request bodies for the request parsers: valid Anthropic Messages, OpenAI Chat Completions and
/// OpenAI Responses bodies with fields dropped, duplicated or given wrong-typed, huge, negative, deeply nested or
/// Unicode-edge values, then (sometimes) damaged at the byte level: truncated, bytes flipped, invalid UTF-8 inserted,
/// a BOM prefixed, or replaced by random bytes. A quarter of the cases are kept valid so they reach the upstream.
/// CI runs 3,000 cases per in-process property and 300 per endpoint over HTTP (under 15 s on 2 cores); a release runs
/// <c>MODELMIX_FUZZ_ITERATIONS=100000 dotnet test tests/ModelMix.IntegrationTests --filter FullyQualifiedName~.Fuzz.</c>
/// (100,000 per property, 10,000 per endpoint). <c>MODELMIX_FUZZ_SEED</c> replays a failing case from its seed.
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

    /// <summary>A new random seed each run (a failure prints it) unless <c>MODELMIX_FUZZ_SEED</c> names one to replay.</summary>
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

    /// <summary>Hostile values at weight <paramref name="h"/>: 0 keeps a case valid (so it reaches the upstream), 1 mixes them in.</summary>
    private static Gen<string> Any(int h) => h == 0 ? SafeString : AnyValue;

    /// <summary>Strings: Unicode-edge and hostile ones when <paramref name="h"/> is not 0, plain non-empty ones otherwise.</summary>
    private static Gen<string> Str(int h) => h == 0 ? SafeString : StringValue;

    /// <summary>Numbers at the edges when <paramref name="h"/> is not 0, small positive integers otherwise.</summary>
    private static Gen<string> Num(int h) => h == 0 ? Gen.Int[1, 1000].Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)) : NumberValue;

    /// <summary><see cref="Gen.Frequency{T}(ValueTuple{int, IGen{T}}[])"/> without the zero-weight choices.</summary>
    private static Gen<T> Freq<T>(params (int Weight, IGen<T> Gen)[] choices) => Gen.Frequency(choices.Where(c => c.Weight > 0).ToArray());

    private static readonly Gen<string> SafeString = Gen.OneOf(
        Gen.OneOf<string>("\"hi\"", "\"Hello, world\"", "\"😀 emoji\"", "\"e\\u0301\"", "\"\\ud83d\\ude00\"", "\"日本語\""),
        Gen.Char['a', 'z'].Array[1, 30].Select(chars => "\"" + new string(chars) + "\""));

    private static string Text() => "\"Summarise the attached report in three bullet points.\"";

    // ---------- Anthropic Messages ----------

    private static Gen<string> AnthropicBlock(int h) => Freq(
        (4, Str(h).Select(text => $"{{\"type\":\"text\",\"text\":{text}}}")),
        (1, Gen.Const("{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}}")),
        (1, Gen.Const("{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"42\"}")),
        (h, Any(h)));

    private static Gen<string> AnthropicContent(int h) => Freq(
        (4, Str(h)),
        (3, AnthropicBlock(h).Array[0, 4].Select(blocks => "[" + string.Join(",", blocks) + "]")),
        (h, Any(h)));

    private static Gen<string> AnthropicMessage(int h) => Freq(
        (8, Gen.Select(Gen.OneOf<string>("\"user\"", "\"assistant\""), AnthropicContent(h), (role, content) => $"{{\"role\":{role},\"content\":{content}}}")),
        (h, Gen.Select(Any(h), Any(h), (role, content) => $"{{\"role\":{role},\"content\":{content}}}")),
        (h, Any(h)));

    private static Gen<string> AnthropicMessages(int h) => Freq(
        (8, AnthropicMessage(h).Array[1, 5].Select(messages => "[" + string.Join(",", messages) + "]")),
        (1, Gen.Const("[]")),
        (h, Any(h)));

    /// <summary>A top-level field: usually its valid value, sometimes a hostile one, sometimes absent.</summary>
    private static Gen<string?> Field(int h, string name, Gen<string> valid, int absentWeight = 1) => Freq(
        (8, valid.Select(v => (string?)$"\"{name}\":{v}")),
        (2 * h, Any(h).Select(v => (string?)$"\"{name}\":{v}")),
        // A valid case (h = 0) keeps its required fields and mostly leaves the optional ones out.
        (absentWeight == 1 ? h : absentWeight * (h == 0 ? 4 : 1), Gen.Const((string?)null)));

    /// <summary>An Anthropic Messages body as JSON text (before any byte-level damage).</summary>
    public static readonly Gen<string> AnthropicJson = Freq((1, AnthropicBody(0)), (3, AnthropicBody(1)));

    private static Gen<string> AnthropicBody(int h) => Gen.Select(
        Gen.Select(
            Field(h, "model", Gen.OneOf<string>(Models).Select(m => $"\"{m}\"")),
            Field(h, "max_tokens", Freq((6, Gen.Int[1, 4096].Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))), (2, Num(h)))),
            Field(h, "messages", AnthropicMessages(h)),
            Field(h, "stream", Gen.OneOf<string>("true", "false", "null"), absentWeight: 6),
            Field(h, "system", Gen.OneOf(Str(h), AnthropicBlock(h).Array[0, 3].Select(b => "[" + string.Join(",", b) + "]")), absentWeight: 6)),
        Gen.Select(
            Field(h, "tools", Gen.Const("[{\"name\":\"lookup\",\"description\":\"d\",\"input_schema\":{\"type\":\"object\"}}]"), absentWeight: 8),
            Field(h, "tool_choice", Gen.OneOf<string>("{\"type\":\"auto\"}", "{\"type\":\"any\"}", "{\"type\":\"tool\",\"name\":\"lookup\"}"), absentWeight: 8),
            Field(h, "output_config", Gen.Const("{\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":\"object\"}}}"), absentWeight: 10),
            Freq((6, Gen.Const((string?)null)), (h, Gen.Select(Gen.OneOf<string>("model", "mod\\u0065l", "max_tokens", "messages", "stream"), Any(h), (k, v) => (string?)$"\"{k}\":{v}"))),
            Freq((6, Gen.Const((string?)null)), (h, Gen.Select(Str(h), Any(h), (k, v) => (string?)$"{k}:{v}")))),
        Gen.Int[0, int.MaxValue],
        (a, b, shuffleSeed) => JoinObject([a.Item1, a.Item2, a.Item3, a.Item4, a.Item5, b.Item1, b.Item2, b.Item3, b.Item4, b.Item5], shuffleSeed));

    // ---------- OpenAI Chat Completions ----------

    /// <summary>A JSON value as the text of a JSON string (tool call arguments are JSON inside a string).</summary>
    private static Gen<string> ArgumentsValue(int h) => Freq(
        (4, Gen.OneOf<string>("{}", "{\"city\":\"Paris\"}", "", " ", "[1,2]", "42", "null", "{bad json", "{\"a\":\"\\ud800\"}")),
        (2, Deep),
        (h, Any(h))).Select(raw => JsonSerializer.Serialize(raw));

    private static Gen<string> OpenAiPart(int h) => Freq(
        (5, Str(h).Select(text => $"{{\"type\":\"text\",\"text\":{text}}}")),
        (1, Gen.OneOf<string>(
            "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}",
            "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}",
            "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:,\"}}",
            "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:;base64\"}}",
            "{\"type\":\"image_url\",\"image_url\":{\"url\":\"ftp://x\"}}",
            "{\"type\":\"image_url\",\"image_url\":\"https://example.com/a.png\"}",
            "{\"type\":\"refusal\",\"refusal\":\"no\"}",
            "{\"type\":\"input_audio\"}")),
        (h, Any(h)));

    private static Gen<string> OpenAiContent(int h) => Freq(
        (5, Str(h)),
        (3, OpenAiPart(h).Array[0, 4].Select(parts => "[" + string.Join(",", parts) + "]")),
        (h, Any(h)));

    private static Gen<string> ToolCall(int h) => Freq(
        (6, Gen.Select(Str(h), Str(h), ArgumentsValue(h), (id, name, args) =>
            $"{{\"id\":{id},\"type\":\"function\",\"function\":{{\"name\":{name},\"arguments\":{args}}}}}")),
        (h, Any(h)));

    private static Gen<string> OpenAiMessage(int h) => Freq(
        (5, Gen.Select(Gen.OneOf<string>("\"user\"", "\"system\"", "\"developer\"", "\"assistant\""), OpenAiContent(h),
            (role, content) => $"{{\"role\":{role},\"content\":{content}}}")),
        (2, Gen.Select(Gen.OneOf<string>("null", "\"\"", "\"Calling the tool.\""), ToolCall(h).Array[0, 3],
            (content, calls) => $"{{\"role\":\"assistant\",\"content\":{content},\"tool_calls\":[{string.Join(",", calls)}]}}")),
        (2, Gen.Select(Str(h), OpenAiContent(h), (id, content) => $"{{\"role\":\"tool\",\"tool_call_id\":{id},\"content\":{content}}}")),
        (h, Gen.Select(Any(h), Any(h), (role, content) => $"{{\"role\":{role},\"content\":{content}}}")),
        (h, Any(h)));

    private static Gen<string> OpenAiMessages(int h) => Freq(
        (8, Gen.Select(Gen.Const("{\"role\":\"user\",\"content\":" + Text() + "}"), OpenAiMessage(h).Array[0, 5],
            (first, rest) => "[" + string.Join(",", rest.Prepend(first)) + "]")),
        (2, OpenAiMessage(h).Array[0, 4].Select(messages => "[" + string.Join(",", messages) + "]")),
        (h, Any(h)));

    /// <summary>A JSON Schema(h) for tool parameters or a response format: small, or nested up to 200 levels.</summary>
    private static Gen<string> Schema(int h) => Freq(
        (4, Gen.Const("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}")),
        (2, Gen.Int[1, 200].Select(depth => string.Concat(Enumerable.Repeat("{\"properties\":{\"a\":", depth)) + "{}" + string.Concat(Enumerable.Repeat("}}", depth)))),
        (h, Any(h)));

    private static Gen<string> OpenAiTools(int h) => Gen.Select(Str(h), Schema(h), Any(h).Array[0, h], (name, schema, extra) =>
        $"[{{\"type\":\"function\",\"function\":{{\"name\":{name},\"description\":\"d\",\"parameters\":{schema}}}}}{string.Concat(extra.Select(e => "," + e))}]");

    /// <summary>An OpenAI Chat Completions body as JSON text (before any byte-level damage).</summary>
    public static readonly Gen<string> OpenAiJson = Freq((1, OpenAiBody(0)), (3, OpenAiBody(1)));

    private static Gen<string> OpenAiBody(int h) => Gen.Select(
        Gen.Select(
            Field(h, "model", Gen.OneOf<string>(Models).Select(m => $"\"{m}\"")),
            Field(h, "messages", OpenAiMessages(h)),
            Field(h, "max_completion_tokens", Freq((4, Gen.Int[1, 4096].Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))), (2, Num(h))), absentWeight: 4),
            Field(h, "max_tokens", Freq((4, Gen.Int[1, 4096].Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))), (2, Num(h))), absentWeight: 4),
            Field(h, "stream", Gen.OneOf<string>("true", "false", "null"), absentWeight: 6),
            Field(h, "stream_options", Gen.OneOf<string>("{\"include_usage\":true}", "{\"include_usage\":\"yes\"}", "{}"), absentWeight: 8)),
        Gen.Select(
            Field(h, "tools", OpenAiTools(h), absentWeight: 4),
            Field(h, "tool_choice", Gen.OneOf<string>("\"auto\"", "\"none\"", "\"required\"", "\"sometimes\"", "{\"type\":\"function\",\"function\":{\"name\":\"lookup\"}}", "{\"type\":\"function\"}"), absentWeight: 6),
            Field(h, "parallel_tool_calls", Gen.OneOf<string>("true", "false"), absentWeight: 8),
            Field(h, "response_format", Gen.OneOf(
                Gen.OneOf<string>("{\"type\":\"text\"}", "{\"type\":\"json_object\"}", "{\"type\":\"json_schema\"}", "{\"type\":\"xml\"}"),
                Schema(h).Select(s => $"{{\"type\":\"json_schema\",\"json_schema\":{{\"name\":\"r\",\"schema\":{s}}}}}")), absentWeight: 6),
            Field(h, "stop", Gen.OneOf<string>("\"END\"", "[\"a\",\"b\"]", "[\" \"]", "[1]", "\"\""), absentWeight: 8),
            Field(h, "temperature", Num(h), absentWeight: 6)),
        Gen.Select(
            Field(h, "top_p", Num(h), absentWeight: 8),
            Field(h, "n", Gen.OneOf<string>("1", "2", "1.0"), absentWeight: 8),
            Field(h, "user", Str(h), absentWeight: 8),
            Field(h, "functions", Gen.Const("[]"), absentWeight: 20),
            Freq((6, Gen.Const((string?)null)), (h, Gen.Select(Gen.OneOf<string>("model", "messages", "max_tokens", "stream", "tools"), Any(h), (k, v) => (string?)$"\"{k}\":{v}")))),
        Gen.Int[0, int.MaxValue],
        (a, b, c, shuffleSeed) => JoinObject(
            [a.Item1, a.Item2, a.Item3, a.Item4, a.Item5, a.Item6, b.Item1, b.Item2, b.Item3, b.Item4, b.Item5, b.Item6, c.Item1, c.Item2, c.Item3, c.Item4, c.Item5],
            shuffleSeed));

    // ---------- OpenAI Responses ----------

    private static Gen<string> ResponsesPart(int h) => Freq(
        (5, Str(h).Select(text => $"{{\"type\":\"input_text\",\"text\":{text}}}")),
        (1, Gen.OneOf<string>(
            "{\"type\":\"output_text\",\"text\":\"earlier\",\"annotations\":[]}",
            "{\"type\":\"input_image\",\"image_url\":\"https://example.com/a.png\",\"detail\":\"auto\"}",
            "{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,iVBORw0KGgo=\"}",
            "{\"type\":\"input_image\",\"image_url\":\"data:,\"}",
            "{\"type\":\"input_image\",\"file_id\":\"file_1\"}",
            "{\"type\":\"input_image\"}",
            "{\"type\":\"input_file\",\"file_data\":\"data:application/pdf;base64,JVBE\"}",
            "{\"type\":\"refusal\",\"refusal\":\"no\"}")),
        (h, Any(h)));

    private static Gen<string> ResponsesContent(int h) => Freq(
        (5, Str(h)),
        (3, ResponsesPart(h).Array[0, 4].Select(parts => "[" + string.Join(",", parts) + "]")),
        (h, Any(h)));

    private static Gen<string> ResponsesItem(int h) => Freq(
        (5, Gen.Select(Gen.OneOf<string>("\"user\"", "\"system\"", "\"developer\"", "\"assistant\""), Gen.OneOf<string>("", "\"type\":\"message\","), ResponsesContent(h),
            (role, type, content) => $"{{{type}\"role\":{role},\"content\":{content}}}")),
        (2, Gen.Select(Str(h), Str(h), ArgumentsValue(h), (id, name, args) => $"{{\"type\":\"function_call\",\"call_id\":{id},\"name\":{name},\"arguments\":{args}}}")),
        (2, Gen.Select(Str(h), Freq((3, Str(h)), (1, ResponsesPart(h).Array[0, 3].Select(parts => "[" + string.Join(",", parts) + "]")), (h, Any(h))),
            (id, output) => $"{{\"type\":\"function_call_output\",\"call_id\":{id},\"output\":{output}}}")),
        (1, Gen.OneOf<string>("{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]}", "{\"type\":\"item_reference\",\"id\":\"msg_1\"}", "{\"type\":\"web_search_call\"}")),
        (h, Gen.Select(Any(h), Any(h), (type, content) => $"{{\"type\":{type},\"role\":\"user\",\"content\":{content}}}")),
        (h, Any(h)));

    private static Gen<string> ResponsesInput(int h) => Freq(
        (3, Str(h)),
        (6, Gen.Select(Gen.Const("{\"role\":\"user\",\"content\":" + Text() + "}"), ResponsesItem(h).Array[0, 5],
            (first, rest) => "[" + string.Join(",", rest.Prepend(first)) + "]")),
        (2, ResponsesItem(h).Array[0, 4].Select(items => "[" + string.Join(",", items) + "]")),
        (h, Any(h)));

    private static Gen<string> ResponsesTools(int h) => Gen.Select(Str(h), Schema(h), Any(h).Array[0, h], (name, schema, extra) =>
        $"[{{\"type\":\"function\",\"name\":{name},\"description\":\"d\",\"parameters\":{schema},\"strict\":true}}{string.Concat(extra.Select(e => "," + e))}]");

    /// <summary>An OpenAI Responses API body as JSON text (before any byte-level damage).</summary>
    public static readonly Gen<string> ResponsesJson = Freq((1, ResponsesBody(0)), (3, ResponsesBody(1)));

    private static Gen<string> ResponsesBody(int h) => Gen.Select(
        Gen.Select(
            Field(h, "model", Gen.OneOf<string>(Models).Select(m => $"\"{m}\"")),
            Field(h, "input", ResponsesInput(h)),
            Field(h, "instructions", Str(h), absentWeight: 4),
            Field(h, "max_output_tokens", Freq((4, Gen.Int[1, 4096].Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))), (2, Num(h))), absentWeight: 4),
            Field(h, "stream", Gen.OneOf<string>("true", "false", "null"), absentWeight: 6),
            Field(h, "store", Gen.OneOf<string>("false", "true", "null"), absentWeight: 6)),
        Gen.Select(
            Field(h, "tools", ResponsesTools(h), absentWeight: 4),
            Field(h, "tool_choice", Gen.OneOf<string>("\"auto\"", "\"none\"", "\"required\"", "\"sometimes\"", "{\"type\":\"function\",\"name\":\"lookup\"}", "{\"type\":\"function\"}", "{\"type\":\"allowed_tools\"}"), absentWeight: 6),
            Field(h, "parallel_tool_calls", Gen.OneOf<string>("true", "false"), absentWeight: 8),
            Field(h, "text", Gen.OneOf(
                Gen.OneOf<string>("{}", "{\"format\":{\"type\":\"text\"}}", "{\"format\":{\"type\":\"json_object\"}}", "{\"format\":{\"type\":\"json_schema\"}}", "{\"format\":{\"type\":\"xml\"}}", "{\"verbosity\":\"low\"}"),
                Schema(h).Select(s => $"{{\"format\":{{\"type\":\"json_schema\",\"name\":\"r\",\"schema\":{s}}}}}")), absentWeight: 6),
            Field(h, "reasoning", Gen.OneOf<string>("{\"effort\":\"low\"}", "{\"effort\":\"minimal\"}", "{\"effort\":\"xhigh\"}", "{\"effort\":\"huge\"}", "{\"effort\":null,\"summary\":\"auto\"}", "{}"), absentWeight: 6),
            Field(h, "temperature", Num(h), absentWeight: 6)),
        Gen.Select(
            Field(h, "top_p", Num(h), absentWeight: 8),
            Field(h, "previous_response_id", Gen.OneOf<string>("null", "\"resp_1\""), absentWeight: 12),
            Field(h, "background", Gen.OneOf<string>("false", "true"), absentWeight: 12),
            Field(h, "safety_identifier", Str(h), absentWeight: 8),
            Freq((6, Gen.Const((string?)null)), (h, Gen.Select(Gen.OneOf<string>("model", "input", "instructions", "stream", "tools", "text", "reasoning"), Any(h), (k, v) => (string?)$"\"{k}\":{v}")))),
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
