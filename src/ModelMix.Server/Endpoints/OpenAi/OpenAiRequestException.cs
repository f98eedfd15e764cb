namespace ModelMix.Server.OpenAi;

/// <summary>A Chat Completions request ModelMix cannot translate; answered with a 400 naming the parameter.</summary>
internal sealed class OpenAiRequestException : Exception
{
    public OpenAiRequestException(string message, string? param)
        : base(message)
    {
        Param = param;
    }

    public OpenAiRequestException()
    {
    }

    public OpenAiRequestException(string message)
        : base(message)
    {
    }

    public OpenAiRequestException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The offending parameter, e.g. <c>messages[2].content</c>.</summary>
    public string? Param { get; }
}
