// The official Anthropic SDK under NativeAOT: a workaround, in this sample only (docs/library.md, "Trimming and NativeAOT").
//
// The SDK (13.12) serializes with reflection-based System.Text.Json through one JsonSerializerOptions of its own
// (Anthropic.Core.ModelBase.SerializerOptions, internal) and offers no hook for a source-generated context
// (anthropic-sdk-csharp#79). Two things break under NativeAOT:
//  1. reflection-based JSON is off by default ("Reflection-based serialization has been disabled for this application",
//     thrown in AnthropicChatClient.CreateMessageParams): AotApp.csproj turns it back on
//     (JsonSerializerIsReflectionEnabledByDefault) and roots the Anthropic assembly so its models keep their metadata;
//  2. reflection then builds converters with MakeGenericType, which NativeAOT cannot do over value types it did not
//     compile: ImmutableArray<ContentBlockParam>, long?, StopReason?, Dictionary<string, JsonElement>, ... ("missing
//     converter"). The converters below are those instantiations written out, so the compiler sees them; they go into the
//     SDK's options before its first call. The SDK's model classes themselves (reference types, each with a
//     [JsonConverter] of the SDK's) are still resolved by reflection, which works for reference types.
//
// Covered: the Messages API types of a text conversation (system prompt, messages, text blocks, citations, usage, stop
// reason, the enums a text call reads). A call with tools, images or thinking blocks may need more instantiations here:
// the failure names the type ("... ImmutableArray`1[...]" or "Nullable`1[...]"), and one line below adds it.
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Anthropic.Core;
using Anthropic.Models.Messages;
using Type = System.Type;

internal static class AnthropicSdkAot
{
    /// <summary>The SDK's own serializer options (internal static readonly): read, never replaced, only added to.</summary>
    [UnsafeAccessor(UnsafeAccessorKind.StaticField, Name = "SerializerOptions")]
    private static extern ref JsonSerializerOptions SdkSerializerOptions(ModelBase? model);

    /// <summary>Adds the value-type converters to the SDK's options; call once, before the first SDK call.</summary>
    public static void Prepare()
    {
        var converters = SdkSerializerOptions(null).Converters;
        converters.Add(new RawDataConverter());
        converters.Add(new ReadOnlyRawDataConverter());
        converters.Add(new NullableOf<long>());
        converters.Add(new NullableOf<bool>());
        converters.Add(new NullableOf<double>());
        converters.Add(new NullableOf<JsonElement>());
        converters.Add(new NullableOf<DateTimeOffset>());
        converters.Add(new NullableOf<StopReason>());
        converters.Add(new NullableOf<Model>());
        converters.Add(new NullableOf<ServiceTier>());
        converters.Add(new NullableOf<UsageServiceTier>());
        AddArrayOf<string>(converters);
        AddArrayOf<MessageParam>(converters);
        AddArrayOf<ContentBlockParam>(converters);
        AddArrayOf<ContentBlock>(converters);
        AddArrayOf<TextBlockParam>(converters);
        AddArrayOf<TextCitation>(converters);
        AddArrayOf<TextCitationParam>(converters);
        AddArrayOf<ToolUnion>(converters);
    }

    private static void AddArrayOf<T>(IList<JsonConverter> converters)
        where T : class
    {
        converters.Add(new ImmutableArrayOf<T>());
        converters.Add(new NullableOf<ImmutableArray<T>>());
    }

    private static JsonTypeInfo<T> Info<T>(JsonSerializerOptions options) => (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T));

    private sealed class ImmutableArrayOf<T> : JsonConverter<ImmutableArray<T>>
    {
        public override ImmutableArray<T> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                throw new JsonException($"Expected an array for {typeof(T).Name}[], got {reader.TokenType}.");
            }

            var info = Info<T>(options);
            var items = ImmutableArray.CreateBuilder<T>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                items.Add(JsonSerializer.Deserialize(ref reader, info)!);
            }

            return items.ToImmutable();
        }

        public override void Write(Utf8JsonWriter writer, ImmutableArray<T> value, JsonSerializerOptions options)
        {
            var info = Info<T>(options);
            writer.WriteStartArray();
            foreach (var item in value.IsDefault ? [] : value)
            {
                JsonSerializer.Serialize(writer, item, info);
            }

            writer.WriteEndArray();
        }
    }

    private sealed class NullableOf<T> : JsonConverter<T?>
        where T : struct
    {
        public override bool HandleNull => true;

        public override T? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? null : JsonSerializer.Deserialize(ref reader, Info<T>(options));

        public override void Write(Utf8JsonWriter writer, T? value, JsonSerializerOptions options)
        {
            if (value is { } present)
            {
                JsonSerializer.Serialize(writer, present, Info<T>(options));
            }
            else
            {
                writer.WriteNullValue();
            }
        }
    }

    /// <summary>A model's raw fields, as the SDK keeps them (each a JSON element, written and read as they are).</summary>
    private sealed class RawDataConverter : JsonConverter<Dictionary<string, JsonElement>>
    {
        public override Dictionary<string, JsonElement> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => ReadObject(ref reader);

        public override void Write(Utf8JsonWriter writer, Dictionary<string, JsonElement> value, JsonSerializerOptions options) => WriteObject(writer, value);
    }

    private sealed class ReadOnlyRawDataConverter : JsonConverter<IReadOnlyDictionary<string, JsonElement>>
    {
        public override IReadOnlyDictionary<string, JsonElement> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => ReadObject(ref reader);

        public override void Write(Utf8JsonWriter writer, IReadOnlyDictionary<string, JsonElement> value, JsonSerializerOptions options) => WriteObject(writer, value);
    }

    private static Dictionary<string, JsonElement> ReadObject(ref Utf8JsonReader reader)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException($"Expected an object, got {document.RootElement.ValueKind}.");
        }

        var fields = new Dictionary<string, JsonElement>();
        foreach (var property in document.RootElement.EnumerateObject())
        {
            fields[property.Name] = property.Value.Clone();
        }

        return fields;
    }

    private static void WriteObject(Utf8JsonWriter writer, IEnumerable<KeyValuePair<string, JsonElement>> fields)
    {
        writer.WriteStartObject();
        foreach (var (name, value) in fields)
        {
            writer.WritePropertyName(name);
            value.WriteTo(writer);
        }

        writer.WriteEndObject();
    }
}
