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

    /// <summary>Set: a zero-downtime cutover behind the host's proxy instead of stop-then-start on <see cref="Ports"/>.</summary>
    [JsonPropertyName("proxy")]
    public ProxySpec? Proxy { get; init; }
}

/// <summary>apps.yaml's <c>proxy:</c> block (docs/deploy-steps.md): where the app is served and how the switch drains.</summary>
public sealed record ProxySpec
{
    /// <summary>The proxy's address for this app, e.g. <c>0.0.0.0:80</c>.</summary>
    [JsonPropertyName("listen")]
    public required string Listen { get; init; }

    /// <summary>Routes by Host header when set, so several apps share one listen address.</summary>
    [JsonPropertyName("host")]
    public string? Host { get; init; }

    /// <summary>The port the app listens on inside its container.</summary>
    [JsonPropertyName("app_port")]
    public required int AppPort { get; init; }

    /// <summary>Seconds the old release may keep serving requests already in flight after the switch.</summary>
    [JsonPropertyName("drain")]
    public double Drain { get; init; } = 30;

    /// <summary>Caddy's admin API, <c>host:port</c> on loopback.</summary>
    [JsonPropertyName("admin")]
    public string Admin { get; init; } = "127.0.0.1:2019";
}

/// <summary>The URL to poll after start (or, behind the proxy, the path on the new container), and how long it may take to answer 2xx.</summary>
public sealed record HealthSpec
{
    [JsonPropertyName("url")]
    public string Url { get; init; } = "";

    /// <summary>With <see cref="DeploySpec.Proxy"/>: the path checked on the new container's own port.</summary>
    [JsonPropertyName("path")]
    public string? Path { get; init; }

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
