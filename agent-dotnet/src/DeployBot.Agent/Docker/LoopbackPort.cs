using System.Net;
using System.Net.Sockets;

namespace DeployBot.Agent.Docker;

/// <summary>
/// The loopback port a cutover publishes its new release on. It is chosen here and given to the engine explicitly,
/// rather than left empty for the engine to pick, because the engine picks a fresh port for an empty one every time
/// the container starts: after a crash under the restart policy, or a restart of dockerd, the release would come back
/// on another port while Caddy still dials the old one. An explicit binding is kept across restarts. The relay does
/// the same over SSH (ssh-relay/src/loopback-port.ts).
/// </summary>
public static class LoopbackPort
{
    /// <summary>A port of the kernel's ephemeral range that is free on 127.0.0.1 now, other than those in
    /// <paramref name="tried"/>: the kernel's own choice for a listener on port 0.</summary>
    public static int Free(IReadOnlySet<int> tried)
    {
        for (var attempt = 0; ; attempt++)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            if (!tried.Contains(port) || attempt >= 16)
            {
                return port;
            }
        }
    }

    /// <summary>The engine refused to start a container because its host port is taken (since it was chosen, or held
    /// by the engine without a socket when its userland proxy is off): worth another port.</summary>
    public static bool IsConflict(Exception ex) =>
        ex is DockerApiException api
        && (api.EngineMessage.Contains("port is already allocated", StringComparison.OrdinalIgnoreCase)
            || api.EngineMessage.Contains("address already in use", StringComparison.OrdinalIgnoreCase));
}
