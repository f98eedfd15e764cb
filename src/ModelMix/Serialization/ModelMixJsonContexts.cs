using System.Text.Json;
using System.Text.Json.Serialization;
using ModelMix.Routing;

namespace ModelMix.Serialization;

// Source-generated JSON metadata for the types the library (de)serializes itself, so it needs no reflection-based
// serialization and stays trim- and NativeAOT-safe (the project is IsAotCompatible: a reflection call is a build error).
// One context per options shape: the generator bakes the options in.

/// <summary>The learned router file's provenance, calibration and evidence blocks (snake_case).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(LearnedRouterProvenance))]
[JsonSerializable(typeof(LearnedRouterCalibration))]
[JsonSerializable(typeof(LearnedRouterEvidence))]
internal sealed partial class LearnedRouterJsonContext : JsonSerializerContext;

/// <summary>Routing options read from a JSON file: case-insensitive names, comments and trailing commas allowed, unknown members refused.</summary>
[JsonSourceGenerationOptions(
    PropertyNameCaseInsensitive = true,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(RoutingOptions))]
internal sealed partial class RoutingJsonContext : JsonSerializerContext;

/// <summary>Plain values written into hand-built JSON (a string as a JSON string literal).</summary>
[JsonSerializable(typeof(string))]
internal sealed partial class PlainJsonContext : JsonSerializerContext;
