namespace DeployBot.Agent.Docker;

/// <summary>
/// One entry of the deploy section's <c>ports</c>: <c>"8080:80"</c>, <c>"127.0.0.1:8080:80"</c>,
/// optionally followed by <c>/tcp</c> or <c>/udp</c> (the controller's apps.yaml grammar).
/// </summary>
public sealed record PortMapping(string HostIp, int HostPort, int ContainerPort, string Protocol)
{
    /// <summary>The Engine API's key for the container side, e.g. <c>80/tcp</c>.</summary>
    public string ContainerKey => $"{ContainerPort}/{Protocol}";

    /// <exception cref="FormatException">Not one of the accepted shapes, or a port outside 1–65535.</exception>
    public static PortMapping Parse(string value)
    {
        var text = value.Trim();
        var protocol = "tcp";
        var slash = text.IndexOf('/');
        if (slash >= 0)
        {
            protocol = text[(slash + 1)..];
            text = text[..slash];
            if (protocol is not ("tcp" or "udp"))
            {
                throw new FormatException($"port \"{value}\": protocol must be tcp or udp");
            }
        }

        var parts = text.Split(':');
        var (hostIp, hostPort, containerPort) = parts.Length switch
        {
            2 => ("", parts[0], parts[1]),
            3 => (parts[0], parts[1], parts[2]),
            _ => throw new FormatException($"port \"{value}\" must look like \"8080:80\" or \"127.0.0.1:8080:80\""),
        };
        if (hostIp.Length > 0 && !System.Net.IPAddress.TryParse(hostIp, out _))
        {
            throw new FormatException($"port \"{value}\": \"{hostIp}\" is not an IP address");
        }
        return new PortMapping(hostIp, ParsePort(hostPort, value), ParsePort(containerPort, value), protocol);
    }

    private static int ParsePort(string text, string whole)
    {
        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
            && port is >= 1 and <= 65535)
        {
            return port;
        }
        throw new FormatException($"port \"{whole}\": \"{text}\" is not a port number between 1 and 65535");
    }
}
