using System.Text.Json.Serialization;

namespace DeployBot.Agent.State;

/// <summary>Source-generated JSON for the state files.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(SavedIdentity))]
[JsonSerializable(typeof(InFlightJob))]
internal sealed partial class StateJson : JsonSerializerContext;
