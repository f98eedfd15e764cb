using System.Reflection;
using Microsoft.Extensions.Configuration;
using ModelMix.Hosting;
using ModelMix.Pipeline;
using ModelMix.Routing;
using ModelMix.Shadow;

namespace ModelMix.Tests.Hosting;

/// <summary>
/// The configuration-only shapes the binding source generator binds (Hosting/ConfigurationShapes.cs) name every
/// configurable property of their options class, so a key added to the options is not silently ignored by configuration.
/// </summary>
public sealed class ConfigurationShapesTests
{
    // A property configuration can set: a settable value, text, time span, enum, or a collection of those.
    private static bool Configurable(PropertyInfo property)
    {
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        if (typeof(Delegate).IsAssignableFrom(type))
        {
            return false; // a Func set in code (TierOf, Redact)
        }

        if (type.IsGenericType && type.GetGenericArguments().Last() is var element && (element.IsPrimitive || element == typeof(string) || element.IsEnum))
        {
            return true; // lists and dictionaries of values (MaxShare is get-only and bound into)
        }

        return property.CanWrite && (type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan));
    }

    [Theory]
    [InlineData(typeof(CascadeOptions), typeof(CascadeShape))]
    [InlineData(typeof(FallbackOptions), typeof(FallbackShape))]
    [InlineData(typeof(TierDriftOptions), typeof(TierDriftShape))]
    [InlineData(typeof(LoopGuardOptions), typeof(LoopGuardShape))]
    [InlineData(typeof(ShadowOptions), typeof(ShadowShape))]
    public void A_shape_names_every_configurable_property_of_its_options(Type options, Type shape)
    {
        var configurable = options.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(Configurable).Select(p => p.Name).Order().ToList();
        var named = shape.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name).Order().ToList();
        Assert.NotEmpty(configurable);
        Assert.Equal(configurable, named);
    }

    [Fact]
    public void Keys_present_set_the_options_and_absent_keys_keep_their_defaults()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ModelMix:LoopGuard:MaxStepsPerSession"] = "", // an empty value turns the limit off
            ["ModelMix:LoopGuard:SpendWindow"] = "00:05:00",
            ["ModelMix:Cascade:Tiers:0"] = "sonnet",
            ["ModelMix:Cascade:TaskThresholds:triage"] = "0.9",
            ["ModelMix:Shadow:Rates:triage"] = "0.25",
            ["ModelMix:Shadow:DailyBudgetUsd"] = "1.50",
        }).Build();

        var loopGuard = new LoopGuardOptions();
        ModelMixSections.Bind(configuration, loopGuard);
        Assert.Null(loopGuard.MaxStepsPerSession);
        Assert.Equal(TimeSpan.FromMinutes(5), loopGuard.SpendWindow);
        Assert.Equal(3, loopGuard.MaxRepeatedToolCalls); // the default, untouched

        var cascade = new CascadeOptions();
        ModelMixSections.Bind(configuration, cascade);
        Assert.Equal(["sonnet"], cascade.Tiers); // replaces haiku, sonnet, opus
        Assert.Equal(0.9, cascade.TaskThresholds["TRIAGE"]); // case-insensitive
        Assert.Equal(0.7, cascade.Threshold);

        var shadow = new ShadowOptions();
        ModelMixSections.Bind(configuration, shadow);
        Assert.Equal(0.25, shadow.Rates["triage"]);
        Assert.Equal(1.50m, shadow.DailyBudgetUsd);
        Assert.Null(shadow.TotalBudgetUsd);
    }
}
