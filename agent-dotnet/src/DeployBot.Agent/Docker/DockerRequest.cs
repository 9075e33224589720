using System.Text.Json.Nodes;
using DeployBot.Agent.Deploy;

namespace DeployBot.Agent.Docker;

/// <summary>
/// One Engine API call as data: method, path and query, body and extra headers. Built by the pure
/// factory methods below and run by <see cref="DockerClient"/>; tests read them as strings.
/// Paths carry no /vX.YY prefix, so the engine answers in its own current API version; every field
/// used here exists in all versions since 1.41 (Docker 20.10).
/// </summary>
public sealed record DockerRequest(string Method, string Path, JsonObject? Body = null, string? RegistryAuth = null)
{
    public static DockerRequest Ping() => new("GET", "/_ping");

    public static DockerRequest InspectImage(ImageReference image) => new("GET", $"/images/{image.FullName}/json");

    public static DockerRequest PullImage(ImageReference image, RegistryCredentials? credentials) =>
        new("POST", $"/images/create?fromImage={Q(image.Repository)}&tag={Q(image.Tag)}",
            RegistryAuth: credentials is null ? null : RegistryAuthHeader.Encode(credentials));

    public static DockerRequest InspectContainer(string nameOrId) => new("GET", $"/containers/{Q(nameOrId)}/json");

    /// <summary>All containers, running or not, whose name contains <paramref name="name"/>.</summary>
    public static DockerRequest ListContainers(string name) =>
        new("GET", $"/containers/json?all=true&filters={Q(new JsonObject { ["name"] = new JsonArray(name) }.ToJsonString())}");

    public static DockerRequest CreateContainer(string name, JsonObject body) =>
        new("POST", $"/containers/create?name={Q(name)}", body);

    public static DockerRequest StartContainer(string id) => new("POST", $"/containers/{Q(id)}/start");

    public static DockerRequest StopContainer(string id, TimeSpan grace) =>
        new("POST", $"/containers/{Q(id)}/stop?t={(int)Math.Ceiling(grace.TotalSeconds)}");

    public static DockerRequest RenameContainer(string id, string newName) =>
        new("POST", $"/containers/{Q(id)}/rename?name={Q(newName)}");

    /// <summary>Force-removes the container and its anonymous volumes; its image stays.</summary>
    public static DockerRequest RemoveContainer(string id) => new("DELETE", $"/containers/{Q(id)}?force=true&v=true");

    public static DockerRequest ContainerLogs(string id, int tail) =>
        new("GET", $"/containers/{Q(id)}/logs?stdout=true&stderr=true&tail={tail}");

    public override string ToString() => $"{Method} {Path}";

    private static string Q(string value) => Uri.EscapeDataString(value);
}
