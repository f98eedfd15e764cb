namespace ModelMix.Pricing;

/// <summary>
/// What ModelMix does with a request for a real model id that the catalog has no price for
/// (<c>ModelMix:UnpricedModels</c>, the same on both doors).
/// </summary>
public enum UnpricedModelHandling
{
    /// <summary>
    /// The default: the request is sent; its attempts are recorded with their tokens and no cost (status
    /// <c>unpriced</c>), so they can be repriced once a price is added. A key or session with a budget still refuses
    /// it, because a budget cannot be held without a price.
    /// </summary>
    Forward = 0,

    /// <summary>Every request for an unpriced model is refused with a 400 (or an exception in the library door) before it is sent.</summary>
    Refuse = 1,
}
