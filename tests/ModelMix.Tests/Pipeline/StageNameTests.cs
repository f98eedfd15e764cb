using Microsoft.Extensions.AI;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Pipeline;

/// <summary>The renamed stages: the old names still add the same stage, for one release.</summary>
public sealed class StageNameTests
{
    [Fact]
    public void The_obsolete_names_forward_to_the_UseModelMix_stages()
    {
        using var inner = new ScriptedChatClient();
        var policy = RoutingConfiguration.CreatePolicy(new RoutingOptions(), PriceBook.Default);
#pragma warning disable CS0618 // the aliases under test
        using var chat = new ChatClientBuilder(inner)
            .UseModelRouting(policy)
            .UseLoopGuard()
            .UseConfidenceCascade()
            .UsePromptCaching()
            .Build();
#pragma warning restore CS0618

        Assert.NotNull(chat.GetService<ModelRoutingChatClient>());
        Assert.NotNull(chat.GetService<LoopGuardChatClient>());
        Assert.NotNull(chat.GetService<CascadeChatClient>());
        Assert.NotNull(chat.GetService<PromptCachingChatClient>());
    }
}
