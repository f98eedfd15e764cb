namespace ModelMix.Evaluation;

/// <summary>A routing dataset line is not valid; the message names the file and the line.</summary>
internal sealed class DatasetFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public DatasetFormatException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What is wrong, naming the file and line.</param>
    public DatasetFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the parser's error.</summary>
    /// <param name="message">What is wrong, naming the file and line.</param>
    /// <param name="inner">The underlying error.</param>
    public DatasetFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
