using DeployBot.Agent.Docker;
using DeployBot.Agent.Proxy;

namespace DeployBot.Agent.Deploy;

/// <summary>
/// Brings an app behind the proxy back to one release after a cutover that did not finish (the agent or the relay
/// was killed): run when the agent starts again and at the proxy step of every cutover. Judged from what the engine
/// and Caddy hold, never from what the dead process believed: a <c>&lt;container&gt;-next-&lt;job&gt;</c> that the proxy's
/// route points at is the live release (the switch happened) and takes the app's name, the old one goes; any other
/// leftover was never switched to and goes. Finally the route is pointed at the live release if it points elsewhere
/// (a proxy restarted with an empty config).
/// </summary>
internal sealed class CutoverRepair(IDockerClient docker, IProxyAdmin proxy, IDeployLog log)
{
    /// <summary>True when something was changed.</summary>
    public async Task<bool> RepairAsync(string name, ProxySpec spec, CancellationToken cancellationToken)
    {
        var key = Cutover.PortKey(spec);
        var prefix = Cutover.NextPrefix(name);
        var leftovers = (await docker.ListContainerNamesAsync(prefix, cancellationToken))
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .ToList();
        var config = await proxy.GetConfigAsync(spec.Admin, cancellationToken);
        var upstream = CaddyConfig.Upstream(config, CaddyConfig.RouteId(name));
        var changed = false;

        ContainerInfo? switched = null;
        foreach (var leftover in leftovers)
        {
            var info = await docker.InspectContainerAsync(leftover, cancellationToken);
            if (info is null)
            {
                continue;
            }
            if (switched is null && upstream is not null && info.PublishedAt(key) == upstream)
            {
                switched = info;
                continue;
            }
            await docker.RemoveContainerAsync(info.Id, cancellationToken);
            Say($"repair: removed {leftover} ({DeployEngine.Short(info.Id)}), left by an interrupted cutover that never switched to it");
            changed = true;
        }

        var live = await docker.InspectContainerAsync(name, cancellationToken);
        if (switched is not null)
        {
            if (live is not null)
            {
                await docker.RemoveContainerAsync(live.Id, cancellationToken);
                Say($"repair: removed the old release {name} ({DeployEngine.Short(live.Id)}); traffic had already moved to {switched.Name}");
            }
            await docker.RenameContainerAsync(switched.Id, name, cancellationToken);
            Say($"repair: {switched.Name} ({DeployEngine.Short(switched.Id)}), which the proxy serves, is now {name}");
            live = switched;
            changed = true;
        }

        if (live is { Running: true } && live.PublishedAt(key) is { } at && at.StartsWith("127.0.0.1:", StringComparison.Ordinal) && at != upstream)
        {
            await proxy.LoadAsync(spec.Admin, CaddyConfig.WithRoute(config, new ProxyRoute(spec.Listen, spec.Host, name, at)), cancellationToken);
            Say($"repair: the proxy's route for {name} pointed at {upstream ?? "nothing"}; it now points at the live release on {at}");
            changed = true;
        }
        return changed;
    }

    private void Say(string text) => log.Write(LogStreams.Stdout, text);
}
