using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.AI;

namespace ModelMix.Pipeline;

/// <summary>
/// The continuation token of a call the batching stage queued (<see cref="BatchingChatClient"/>): it names the batch job
/// in the durable queue, nothing else, so it can be persisted (<see cref="ResponseContinuationToken.ToBytes"/>, or JSON
/// with the base class's converter) and resumed in another process over the same store.
/// </summary>
/// <remarks>
/// The bytes are UTF-8 JSON: <c>{"modelmix_batch_job":"mmxjob_…"}</c>. In JSON the token is written as the base class
/// writes any token (a base64 string of its bytes), whether it is serialized as this type or as
/// <see cref="ResponseContinuationToken"/>, so either form reads back as the other.
/// </remarks>
[JsonConverter(typeof(Converter))]
public sealed class BatchContinuationToken : ResponseContinuationToken
{
    private const string JobProperty = "modelmix_batch_job";

    /// <summary>Creates the token of the batch job <paramref name="jobId"/>.</summary>
    /// <param name="jobId">The job id (<c>mmxjob_…</c>).</param>
    public BatchContinuationToken(string jobId)
        : base(Encode(jobId))
    {
        JobId = jobId;
    }

    /// <summary>The batch job that holds the call.</summary>
    public string JobId { get; }

    /// <summary>
    /// Reads a token — this type, or any <see cref="ResponseContinuationToken"/> rebuilt from this type's bytes (e.g.
    /// with <see cref="ResponseContinuationToken.FromBytes"/> after a restart). False for another stage's token.
    /// </summary>
    /// <param name="token">The token to read.</param>
    /// <param name="parsed">The batch token, when it is one.</param>
    /// <returns>Whether <paramref name="token"/> is a batch token.</returns>
    public static bool TryParse(ResponseContinuationToken? token, [NotNullWhen(true)] out BatchContinuationToken? parsed)
    {
        parsed = token as BatchContinuationToken;
        if (parsed is not null || token is null)
        {
            return parsed is not null;
        }

        try
        {
            var reader = new Utf8JsonReader(token.ToBytes().Span);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isJob = reader.ValueTextEquals(JobProperty);
                if (!reader.Read())
                {
                    return false;
                }

                if (isJob && reader.TokenType == JsonTokenType.String && reader.GetString() is { Length: > 0 } jobId)
                {
                    parsed = new BatchContinuationToken(jobId);
                    return true;
                }

                reader.Skip();
            }
        }
        catch (JsonException)
        {
        }

        return false;
    }

    /// <inheritdoc />
    public override string ToString() => JobId;

    /// <summary>Writes the token as a base64 string of its bytes, like <see cref="ResponseContinuationToken.Converter"/>.</summary>
    public new sealed class Converter : JsonConverter<BatchContinuationToken>
    {
        /// <inheritdoc />
        public override BatchContinuationToken? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            TryParse(FromBytes(reader.GetBytesFromBase64()), out var token)
                ? token
                : throw new JsonException("The continuation token is not a ModelMix batch token.");

        /// <inheritdoc />
        public override void Write(Utf8JsonWriter writer, BatchContinuationToken value, JsonSerializerOptions options)
        {
            ArgumentNullException.ThrowIfNull(writer);
            ArgumentNullException.ThrowIfNull(value);
            writer.WriteBase64StringValue(value.ToBytes().Span);
        }
    }

    private static ReadOnlyMemory<byte> Encode(string jobId)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString(JobProperty, jobId);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
