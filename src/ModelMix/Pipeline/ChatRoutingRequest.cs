using System.Text;
using Microsoft.Extensions.AI;
using ModelMix.Catalog;
using ModelMix.Routing;

namespace ModelMix.Pipeline;

/// <summary>
/// Extracts the routing features of an <see cref="IChatClient"/> call (<see cref="RoutingRequest"/>) from its messages
/// and options, so the library door routes on the same features the proxy door extracts from raw JSON.
/// </summary>
public static class ChatRoutingRequest
{
    /// <summary>
    /// The features of one call: task label, session and key from <see cref="ModelMixChatOptions"/>; keyword text =
    /// the newest user turn's own text (not instructions, system messages, tool results or injected system reminders); a token estimate over all text; tool count;
    /// images; structured output (JSON response format or a required tool); max tokens; depth (messages, system prompts aside); and the
    /// requested model (<see cref="ChatOptions.ModelId"/>).
    /// </summary>
    /// <param name="messages">The conversation sent with the call.</param>
    /// <param name="options">The call's options, if any.</param>
    /// <remarks>
    /// The token estimate covers text, reasoning text, tool-call arguments and tool results; images are not counted,
    /// because their size is not known without decoding them (the rules use <see cref="RoutingRequest.HasImages"/>).
    /// </remarks>
    public static RoutingRequest From(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        // Keyword rules judge the newest user turn a person wrote, not the instructions or system prompt (an agent's long,
        // fixed system prompt would otherwise match the same rule on every call), as the proxy does.
        var system = new StringBuilder();
        long totalChars = options?.Instructions?.Length ?? 0;
        ChatMessage? lastUser = null;
        ChatMessage? last = null;
        var depth = 0;
        var hasImages = false;
        var carriesThinking = false;
        foreach (var message in messages)
        {
            if (message.Role != ChatRole.System)
            {
                // Depth counts the conversation's messages (system prompts aside), as the proxy counts the API's
                // `messages` array, so a depth rule means the same at both doors.
                depth++;
            }

            if (message.Role == ChatRole.User && HasWrittenText(message))
            {
                lastUser = message;
            }

            if (message.Role != ChatRole.System)
            {
                last = message;
            }

            foreach (var content in message.Contents)
            {
                switch (content)
                {
                    case TextContent text:
                        totalChars += text.Text?.Length ?? 0;
                        break;
                    case TextReasoningContent reasoning:
                        totalChars += reasoning.Text?.Length ?? 0;
                        carriesThinking |= message.Role == ChatRole.Assistant;
                        break;
                    case FunctionCallContent call:
                        totalChars += call.Name.Length;
                        if (call.Arguments is { } arguments)
                        {
                            foreach (var argument in arguments)
                            {
                                totalChars += argument.Key.Length + (argument.Value?.ToString()?.Length ?? 0);
                            }
                        }

                        break;
                    case FunctionResultContent result:
                        totalChars += result.Result?.ToString()?.Length ?? 0;
                        break;
                    case DataContent data when data.HasTopLevelMediaType("image"):
                        hasImages = true;
                        break;
                    case UriContent uri when uri.HasTopLevelMediaType("image"):
                        hasImages = true;
                        break;
                }
            }
        }

        if (lastUser is not null)
        {
            foreach (var content in lastUser.Contents)
            {
                if (content is TextContent { Text: { Length: > 0 } text } && !IsSystemReminder(text))
                {
                    AppendLine(system, text);
                }
            }
        }

        return new RoutingRequest
        {
            TaskLabel = options.GetTaskLabel(),
            Text = system.ToString().AsMemory(),
            EstimatedInputTokens = (long)Math.Ceiling(totalChars / TokenEstimator.CharsPerToken),
            ToolCount = options?.Tools?.Count ?? 0,
            HasImages = hasImages,
            StructuredOutput = IsStructured(options),
            MaxTokens = options?.MaxOutputTokens,
            ConversationDepth = depth,
            SessionId = options.GetSessionId(),
            RequestId = options.GetRequestId(),
            KeyId = options.GetKeyId(),
            RequestedModel = string.IsNullOrEmpty(options?.ModelId) ? null : options.ModelId,
            Traits = TraitsOf(options, last?.Role == ChatRole.Assistant, carriesThinking),
        };
    }

    /// <summary>
    /// What the call asks of a model that some models refuse, from its options: a required tool (forced tool use),
    /// sampling parameters other than the API's defaults, and <see cref="ChatOptions.Reasoning"/> (an effort level,
    /// or <see cref="ReasoningEffort.None"/> for thinking disabled); plus an assistant prefill and carried thinking.
    /// </summary>
    /// <param name="options">The call's options, if any.</param>
    /// <param name="assistantPrefill">Whether the last message is the assistant's.</param>
    /// <param name="carriesThinking">Whether earlier assistant turns carry reasoning.</param>
    public static RequestTraits TraitsOf(ChatOptions? options, bool assistantPrefill = false, bool carriesThinking = false)
    {
        var toolChoice = options?.ToolMode switch
        {
            RequiredChatToolMode { RequiredFunctionName: not null } => ToolChoiceMode.Tool,
            RequiredChatToolMode => ToolChoiceMode.Any,
            NoneChatToolMode => ToolChoiceMode.None,
            AutoChatToolMode => ToolChoiceMode.Auto,
            _ => ToolChoiceMode.Unspecified,
        };
        var effort = options?.Reasoning?.Effort switch
        {
            ReasoningEffort.Low => EffortLevel.Low,
            ReasoningEffort.Medium => EffortLevel.Medium,
            ReasoningEffort.High => EffortLevel.High,
            ReasoningEffort.ExtraHigh => EffortLevel.XHigh,
            _ => EffortLevel.Unspecified,
        };
        return new RequestTraits
        {
            ToolChoice = toolChoice,
            // The Anthropic SDK sends an effort level with adaptive thinking, and ReasoningEffort.None as thinking disabled.
            Thinking = options?.Reasoning?.Effort switch
            {
                ReasoningEffort.None => ThinkingMode.Disabled,
                ReasoningEffort.Low or ReasoningEffort.Medium or ReasoningEffort.High or ReasoningEffort.ExtraHigh => ThinkingMode.Adaptive,
                _ => ThinkingMode.Unspecified,
            },
            Effort = effort,
            NonDefaultSampling = options is not null && ((options.Temperature is { } t && t != 1f) || options.TopP is not null || options.TopK is not null),
            TemperatureAndTopP = options is { Temperature: not null, TopP: not null },
            AssistantPrefill = assistantPrefill,
            CarriesThinking = carriesThinking,
        };
    }

    /// <summary>Whether the output will be parsed: a JSON response format, or a tool the model must call.</summary>
    /// <param name="options">The call's options, if any.</param>
    public static bool IsStructured(ChatOptions? options) =>
        options is not null && (options.ResponseFormat is ChatResponseFormatJson || options.ToolMode is RequiredChatToolMode);

    private static bool HasWrittenText(ChatMessage message)
    {
        foreach (var content in message.Contents)
        {
            if (content is TextContent { Text: { Length: > 0 } text } && !IsSystemReminder(text))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Claude Code wraps context it injects into user turns in <c>&lt;system-reminder&gt;</c> tags: not the person's words.</summary>
    private static bool IsSystemReminder(string text) => text.AsSpan().TrimStart().StartsWith("<system-reminder>", StringComparison.Ordinal);

    private static void AppendLine(StringBuilder builder, string text)
    {
        if (text.Length == 0)
        {
            return;
        }

        if (builder.Length > 0)
        {
            builder.Append('\n');
        }

        builder.Append(text);
    }
}
