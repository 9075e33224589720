using DeployBot.Agent.Docker;

namespace DeployBot.Agent.Tests.Docker;

public sealed class DockerEndpointTests
{
    [Theory]
    [InlineData(null, "/var/run/docker.sock", "http://docker/")]
    [InlineData("", "/var/run/docker.sock", "http://docker/")]
    [InlineData("unix:///run/user/1000/docker.sock", "/run/user/1000/docker.sock", "http://docker/")]
    [InlineData("tcp://127.0.0.1:2375", null, "http://127.0.0.1:2375/")]
    public void Parses_DOCKER_HOST(string? value, string? socketPath, string baseAddress)
    {
        // Act
        var endpoint = DockerEndpoint.Parse(value);

        // Assert
        Assert.Equal((socketPath, baseAddress), (endpoint.SocketPath, endpoint.BaseAddress.ToString()));
    }

    [Theory]
    [InlineData("unix://relative.sock")]
    [InlineData("npipe:////./pipe/docker_engine")]
    [InlineData("ssh://me@host")]
    [InlineData("tcp://host:2375/path")]
    public void Refuses_what_it_cannot_talk_to(string value)
    {
        var error = Assert.Throws<FormatException>(() => DockerEndpoint.Parse(value));
        Assert.Contains(value, error.Message);
    }
}
