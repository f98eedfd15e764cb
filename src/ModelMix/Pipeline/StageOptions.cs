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
        if (services.GetService<ModelMixServicesMarker>() is null && services.GetService<IConfiguration>() is { } configuration)
        {
            ModelMixSections.Bind(configuration, options);
        }

        configure?.Invoke(options);
        return options;
    }
}
