namespace DeployBot.Agent.Docker;

/// <summary>What the agent needs from <c>GET /containers/{id}/json</c>.</summary>
public sealed record ContainerInfo(
    string Id,
    string Name,
    string Image,
    bool Running,
    string Status,
    int ExitCode,
    string StartedAt,
    IReadOnlyDictionary<string, string> Labels);
