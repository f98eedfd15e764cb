using System.Text;
using ModelMix.Routing;

namespace ModelMix.Tests.Routing;

public sealed class TokenEstimatorTests
{
    [Theory]
    [InlineData("", 0)]
    [InlineData("a", 1)]
    [InlineData("abcdefg", 2)]
    [InlineData("abcdefgh", 3)]
    public void Chars_estimate_rounds_up_at_three_and_a_half_per_token(string text, long expected) =>
        Assert.Equal(expected, TokenEstimator.Estimate(text));

    [Fact]
    public void Utf8_estimate_is_four_bytes_per_token_rounded_up()
    {
        Assert.Equal(0, TokenEstimator.EstimateUtf8([]));
        Assert.Equal(1, TokenEstimator.EstimateUtf8("abcd"u8));
        Assert.Equal(2, TokenEstimator.EstimateUtf8("abcde"u8));
        Assert.Equal(2, TokenEstimator.EstimateFromUtf8Length("café"));
        Assert.Equal(Encoding.UTF8.GetByteCount("naïve résumé") / 4 + 1, TokenEstimator.EstimateFromUtf8Length("naïve résumé"));
    }

    [Fact]
    public void Image_estimate_follows_width_times_height_over_750()
    {
        Assert.Equal(1_399, TokenEstimator.EstimateImage(1_024, 1_024));
        Assert.Equal(1_600, TokenEstimator.EstimateImage(1_000, 1_200));
        Assert.Equal(0, TokenEstimator.EstimateImage(0, 500));
    }

    [Fact]
    public void Null_text_estimates_zero() => Assert.Equal(0, TokenEstimator.Estimate((string?)null));

    [Fact]
    public void Estimate_tracks_real_token_counts_of_the_shared_datasets()
    {
        // The datasets count input tokens with Anthropic's 2023 tokenizer: the estimate should be within ±30%
        // in aggregate (it leans high, which keeps long prompts away from the cheap tier).
        foreach (var file in new[] { "routerbench-train.jsonl", "alpacaeval2-claude.jsonl" })
        {
            long estimated = 0, counted = 0;
            foreach (var prompt in SharedData.Read(file))
            {
                estimated += TokenEstimator.Estimate(prompt.Prompt);
                counted += prompt.InputTokens;
            }

            var ratio = (double)estimated / counted;
            Assert.InRange(ratio, 0.9, 1.35);
        }
    }

    [Fact]
    public void For_prompt_fills_text_tokens_and_depth()
    {
        var request = RoutingRequest.ForPrompt(Prompts.ChitChat, "chat");

        Assert.Equal(Prompts.ChitChat, request.Text.ToString());
        Assert.Equal(TokenEstimator.Estimate(Prompts.ChitChat), request.EstimatedInputTokens);
        Assert.Equal(1, request.ConversationDepth);
        Assert.Equal("chat", request.TaskLabel);
    }
}
