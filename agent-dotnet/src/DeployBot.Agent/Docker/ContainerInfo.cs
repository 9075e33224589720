namespace DeployBot.Agent.Docker;

/// <summary>What the agent needs from <c>GET /containers/{id}/json</c>. <see cref="Published"/>: container port key → host address.</summary>
public sealed record ContainerInfo(
    string Id,
    string Name,
    string Image,
    bool Running,
    string Status,
    int ExitCode,
    string StartedAt,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string>? Published = null)
{
    /// <summary>Where the engine published <paramref name="containerKey"/> (<c>3000/tcp</c>): <c>127.0.0.1:49153</c>, or null.</summary>
    public string? PublishedAt(string containerKey) => Published?.GetValueOrDefault(containerKey);
}
