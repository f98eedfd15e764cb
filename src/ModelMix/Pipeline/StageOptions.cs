using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelMix.Hosting;

namespace ModelMix.Pipeline;

/// <summary>How a stage added to a <see cref="Microsoft.Extensions.AI.ChatClientBuilder"/> gets its options.</summary>
internal static class StageOptions
{
    /// <summary>
    /// A fresh options instance for one stage: from <see cref="IOptionsFactory{TOptions}"/>, so what
    /// <c>AddModelMix</c> bound and validated and any <c>services.Configure&lt;T&gt;</c> apply; without <c>AddModelMix</c>,
    /// the stage's <c>ModelMix:*</c> section of a registered <see cref="IConfiguration"/> is bound on top; then the
    /// stage's own <paramref name="configure"/>. The instance is the stage's own: changing it changes no other stage.
    /// </summary>
    public static T Create<T>(IServiceProvider services, Action<T>? configure)
        where T : class, new()
    {
        var options = services.GetService<IOptionsFactory<T>>()?.Create(Options.DefaultName) ?? new T();
        if (Unbound(services) is { } configuration)
        {
            ModelMixSections.Bind(configuration, options);
        }

        configure?.Invoke(options);
        return options;
    }

    /// <summary>
    /// The registered <see cref="IConfiguration"/> when no <c>AddModelMix</c> bound the sections (a pipeline built over
    /// services that only have a configuration), else null: the one place a stage reads the configuration itself, through
    /// the same binders (ModelMixSections, RoutingConfiguration) that <c>AddModelMix</c> registers.
    /// </summary>
    public static IConfiguration? Unbound(IServiceProvider services) =>
        services.GetService<ModelMixServicesMarker>() is null ? services.GetService<IConfiguration>() : null;
}
