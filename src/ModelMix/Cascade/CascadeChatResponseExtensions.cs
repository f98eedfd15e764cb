using Microsoft.Extensions.AI;

namespace ModelMix.Pipeline;

/// <summary>Reads what a confidence cascade attached to its answer.</summary>
public static class CascadeChatResponseExtensions
{
    /// <summary>The cascade's record of the request, or null when the response did not come through a cascade.</summary>
    /// <param name="response">A response from a client built with <c>UseModelMixCascade</c>.</param>
    public static CascadeResult? GetCascadeResult(this ChatResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return response.AdditionalProperties is { } properties && properties.TryGetValue(CascadeChatClient.ResultKey, out CascadeResult? result)
            ? result
            : null;
    }
}
