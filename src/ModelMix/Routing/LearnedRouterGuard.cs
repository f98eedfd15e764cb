namespace ModelMix.Routing;

/// <summary>
/// Whether a learned router has earned live traffic: its file must record evidence (<see cref="LearnedRouterEvidence"/>)
/// measured on the deployment's own traffic (shadow pairs count) whose APGR interval lies above random routing's 0.5.
/// A router trained on a public benchmark has not shown it routes this deployment's prompts better than a coin: on
/// open-ended chat no prompt-only router beat random. The proxy refuses such a router unless forced; the audit says so.
/// </summary>
internal static class LearnedRouterGuard
{
    /// <summary>Checks a router's evidence.</summary>
    /// <param name="router">The router.</param>
    /// <returns>Whether it may serve, and why (or why not) in one sentence.</returns>
    public static (bool Allowed, string Reason) Check(LearnedRouter router)
    {
        ArgumentNullException.ThrowIfNull(router);
        if (router.Evidence is not { } evidence)
        {
            return (false, "the router file records no evidence that it beats random routing; measure it on your own traffic: "
                + "modelmix export --shadow, then modelmix train (or calibrate) --quality-floor on that file");
        }

        if (!evidence.InDomain)
        {
            return (false, $"its evidence is not from this deployment's traffic ({evidence.Domain ?? evidence.Dataset}; {evidence.Describe()}); "
                + "shadow pairs (modelmix export --shadow) count as in-domain");
        }

        return evidence.BeatsRandom
            ? (true, $"in-domain evidence: {evidence.Describe()}")
            : (false, $"on its in-domain evidence it does not beat random routing: {evidence.Describe()}");
    }
}
