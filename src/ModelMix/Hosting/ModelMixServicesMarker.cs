namespace ModelMix.Hosting;

/// <summary>Registered by <c>AddModelMix</c>: stages then take their options from it alone (bound and checked at start).</summary>
internal sealed class ModelMixServicesMarker;
