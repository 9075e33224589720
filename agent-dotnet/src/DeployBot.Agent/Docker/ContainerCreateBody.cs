using System.Text.Json.Nodes;
using DeployBot.Agent.Deploy;

namespace DeployBot.Agent.Docker;

/// <summary>
/// Pure builder of the <c>POST /containers/create</c> body for a deploy job; no I/O, tested as data.
/// </summary>
public static class ContainerCreateBody
{
    public const string AppLabel = "deploybot.app";
    public const string ShaLabel = "deploybot.sha";
    public const string JobLabel = "deploybot.job";

    /// <exception cref="FormatException">A port entry or the image is malformed.</exception>
    public static JsonObject Build(DeployJob job)
    {
        var spec = job.Deploy;
        var image = ImageReference.Parse(spec.Image);
        var ports = spec.Ports.Select(PortMapping.Parse).ToList();

        var exposed = new JsonObject();
        var bindings = new JsonObject();
        foreach (var group in ports.GroupBy(p => p.ContainerKey))
        {
            exposed[group.Key] = new JsonObject();
            bindings[group.Key] = new JsonArray(group
                .Select(p => (JsonNode)new JsonObject
                {
                    ["HostIp"] = p.HostIp,
                    ["HostPort"] = p.HostPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                })
                .ToArray());
        }

        // Sorted so that the same spec always yields the same body (and readable diffs in tests).
        var env = new JsonArray(spec.Env
            .OrderBy(e => e.Key, StringComparer.Ordinal)
            .Select(e => (JsonNode)JsonValue.Create($"{e.Key}={e.Value}"))
            .ToArray());

        return new JsonObject
        {
            ["Image"] = image.FullName,
            ["Env"] = env,
            ["Labels"] = new JsonObject
            {
                [AppLabel] = job.App,
                [ShaLabel] = job.Sha,
                [JobLabel] = job.JobId,
            },
            ["ExposedPorts"] = exposed,
            ["HostConfig"] = new JsonObject
            {
                ["PortBindings"] = bindings,
                // A deployed release comes back after a reboot or a crash; an explicit stop (rollback) sticks.
                ["RestartPolicy"] = new JsonObject { ["Name"] = "unless-stopped" },
            },
        };
    }
}
