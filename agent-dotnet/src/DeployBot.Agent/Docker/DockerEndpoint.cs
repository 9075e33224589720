namespace DeployBot.Agent.Docker;

/// <summary>
/// Where the Docker Engine API listens, parsed from a DOCKER_HOST value:
/// <c>unix:///var/run/docker.sock</c> or <c>tcp://127.0.0.1:2375</c> (plain HTTP; TLS is not supported).
/// </summary>
public sealed record DockerEndpoint
{
    public const string DefaultSocketPath = "/var/run/docker.sock";

    private DockerEndpoint(string display, string? socketPath, Uri baseAddress)
    {
        Display = display;
        SocketPath = socketPath;
        BaseAddress = baseAddress;
    }

    /// <summary>The endpoint as the user wrote it, for error messages.</summary>
    public string Display { get; }

    /// <summary>The unix socket path, or null for a TCP endpoint.</summary>
    public string? SocketPath { get; }

    /// <summary>The HTTP base address requests are made against (a placeholder host for unix sockets).</summary>
    public Uri BaseAddress { get; }

    public static DockerEndpoint Default { get; } = Unix(DefaultSocketPath);

    public static DockerEndpoint Unix(string socketPath) =>
        new($"unix://{socketPath}", socketPath, new Uri("http://docker/"));

    /// <summary>Parses a DOCKER_HOST value; null or empty means the default socket.</summary>
    /// <exception cref="FormatException">The value is neither unix:// nor tcp://.</exception>
    public static DockerEndpoint Parse(string? dockerHost)
    {
        if (string.IsNullOrWhiteSpace(dockerHost))
        {
            return Default;
        }

        var value = dockerHost.Trim();
        if (value.StartsWith("unix://", StringComparison.Ordinal))
        {
            var path = value["unix://".Length..];
            if (path.Length == 0 || path[0] != '/')
            {
                throw new FormatException($"DOCKER_HOST \"{value}\": a unix socket needs an absolute path, as in unix:///var/run/docker.sock");
            }
            return Unix(path);
        }

        if (value.StartsWith("tcp://", StringComparison.Ordinal)
            && Uri.TryCreate("http://" + value["tcp://".Length..].TrimEnd('/') + "/", UriKind.Absolute, out var uri)
            && uri.AbsolutePath == "/")
        {
            return new DockerEndpoint(value, null, uri);
        }

        throw new FormatException($"DOCKER_HOST \"{value}\" is not supported: use unix:///path/to/docker.sock or tcp://host:port");
    }

    public override string ToString() => Display;
}
