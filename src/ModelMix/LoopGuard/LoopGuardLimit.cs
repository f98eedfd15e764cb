namespace ModelMix.Pipeline;

/// <summary>Which limit of the loop guard (<see cref="LoopGuardChatClient"/>) a session hit.</summary>
public enum LoopGuardLimit
{
    /// <summary>The session made as many model calls as <see cref="LoopGuardOptions.MaxStepsPerSession"/> allows.</summary>
    Steps = 0,

    /// <summary>The session's priced spend reached <see cref="LoopGuardOptions.MaxSpendPerSession"/>.</summary>
    Spend = 1,

    /// <summary>The session's spend within <see cref="LoopGuardOptions.SpendWindow"/> reached <see cref="LoopGuardOptions.MaxSpendPerWindow"/>.</summary>
    SpendVelocity = 2,

    /// <summary>The model asked for the same function with the same arguments <see cref="LoopGuardOptions.MaxRepeatedToolCalls"/> times.</summary>
    RepeatedToolCall = 3,
}
