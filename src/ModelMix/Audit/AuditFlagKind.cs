namespace ModelMix.Audit;

/// <summary>What an audit flag is about.</summary>
internal enum AuditFlagKind
{
    /// <summary>A tier takes more of the calls than its configured bound.</summary>
    TierShare = 0,

    /// <summary>A task's volume is too small for routing to be worth its complexity.</summary>
    LowVolumeTask = 1,

    /// <summary>A session spends fast enough to look like a runaway loop.</summary>
    RunawaySession = 2,

    /// <summary>The API dropped thinking blocks from prompts: reasoning paid for and not reused.</summary>
    DroppedThinking = 3,

    /// <summary>Calls to a model the catalog cannot price: recorded with tokens and no cost until a price is added.</summary>
    UnpricedModel = 4,

    /// <summary>Calls whose client hung up before the answer was complete: paid for, and by whom (docs/ledger.md).</summary>
    ClientDisconnected = 5,
}
