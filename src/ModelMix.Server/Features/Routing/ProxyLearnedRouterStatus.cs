namespace ModelMix.Server;

/// <summary>What the start log says about the learned alias: which router serves it, and on what evidence.</summary>
/// <param name="Alias">The alias served.</param>
/// <param name="Path">The router file.</param>
/// <param name="Forced">Whether it is served only because <c>ModelMix:LearnedRouter:Force</c> is true.</param>
/// <param name="Reason">The guard's verdict in one sentence.</param>
internal sealed record ProxyLearnedRouterStatus(string Alias, string Path, bool Forced, string Reason);
