using System.Text.Json.Serialization;

namespace DeployBot.Agent.Deploy;

/// <summary>
/// The rendered <c>deploy</c> section of apps.yaml, as the controller sends it with an assigned job
/// (<c>DeploySpec</c> in the controller's src/schemas/agents.ts). JSON names are the controller's.
/// </summary>
public sealed record DeploySpec
{
    [JsonPropertyName("image")]
    public required string Image { get; init; }

    [JsonPropertyName("container")]
    public required string Container { get; init; }

    /// <summary><c>"8080:80"</c> or <c>"127.0.0.1:8080:80"</c>, optionally with <c>/tcp</c> or <c>/udp</c>.</summary>
    [JsonPropertyName("ports")]
    public IReadOnlyList<string> Ports { get; init; } = [];

    [JsonPropertyName("env")]
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();

    [JsonPropertyName("health")]
    public HealthSpec? Health { get; init; }
}

/// <summary>The URL to poll after start, and how long it may take to answer 2xx.</summary>
public sealed record HealthSpec
{
    [JsonPropertyName("url")]
    public required string Url { get; init; }

    /// <summary>Seconds; the controller has already turned "30s" into 30.</summary>
    [JsonPropertyName("timeout")]
    public double Timeout { get; init; } = 30;
}

/// <summary>Credentials for a private registry, sent to the engine as X-Registry-Auth.</summary>
public sealed record RegistryCredentials(string Username, string Password, string? ServerAddress = null);

/// <summary>One deployment to carry out: the job it belongs to and what to deploy.</summary>
public sealed record DeployJob
{
    [JsonPropertyName("id")]
    public required string JobId { get; init; }

    [JsonPropertyName("app")]
    public required string App { get; init; }

    [JsonPropertyName("sha")]
    public required string Sha { get; init; }

    [JsonPropertyName("deploy")]
    public required DeploySpec Deploy { get; init; }

    /// <summary>Not part of the controller's Job; the agent fills it from its own configuration.</summary>
    [JsonIgnore]
    public RegistryCredentials? Registry { get; init; }
}
