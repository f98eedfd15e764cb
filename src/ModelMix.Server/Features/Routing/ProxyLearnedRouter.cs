using Microsoft.Extensions.Logging;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The <c>learned</c> routing alias: when <c>ModelMix:LearnedRouter:Path</c> names a router file (from
/// <c>modelmix train</c> and <c>calibrate</c>), requests for the alias (<c>auto-learned</c> unless
/// <c>ModelMix:LearnedRouter:Alias</c> says otherwise) go through the pins, then the learned router, which maps its
/// cheap / mid / top tiers to <c>Cheap</c> / <c>Mid</c> / <c>Top</c> (haiku / sonnet / opus by default). Loaded at
/// start-up: a missing or invalid file fails the start with a message naming the key, and so does a router whose
/// in-domain evidence does not beat random routing (<see cref="LearnedRouterGuard"/>) unless
/// <c>ModelMix:LearnedRouter:Force</c> is true, which the start log says. The alias is the library's
/// (<see cref="LearnedRouterOptions"/>, built with the alias map); this class holds the proxy's start log lines.
/// </summary>
internal static partial class ProxyLearnedRouter
{
    [LoggerMessage(90, LogLevel.Information, "'{Alias}' serves the learned router {Path}: {Reason}.")]
    public static partial void Served(ILogger logger, string alias, string path, string reason);

    [LoggerMessage(91, LogLevel.Warning, "'{Alias}' serves the learned router {Path} only because ModelMix:LearnedRouter:Force is true: {Reason}.")]
    public static partial void Forced(ILogger logger, string alias, string path, string reason);

    /// <summary>The configuration section.</summary>
    public const string Section = LearnedRouterOptions.SectionName;

    /// <summary>The alias served unless configured otherwise.</summary>
    public const string DefaultAlias = LearnedRouterOptions.DefaultAlias;
}
