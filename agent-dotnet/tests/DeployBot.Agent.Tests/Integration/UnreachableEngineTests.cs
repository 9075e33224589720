using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;
using DeployBot.Agent.Tests.Fakes;

namespace DeployBot.Agent.Tests.Integration;

/// <summary>A real client pointed at a socket where no engine listens.</summary>
public sealed class UnreachableEngineTests
{
    private const string Socket = "unix:///tmp/deploybot-no-such-docker.sock";

    [Fact]
    public async Task A_deploy_against_a_wrong_socket_fails_at_pull_naming_the_socket()
    {
        // Arrange
        using var docker = new DockerClient(DockerEndpoint.Parse(Socket), TimeProvider.System);
        using var probe = new HttpHealthProbe(TimeProvider.System);
        var engine = new DeployEngine(docker, probe, TimeProvider.System, new DeployEngineOptions());
        var log = new RecordingDeployLog();
        var job = new DeployJob
        {
            JobId = "j1", App = "hello", Sha = "abc",
            Deploy = new DeploySpec { Image = DockerFixture.Image("v1"), Container = "dbit-unreachable", Ports = ["127.0.0.1:18081:80"] },
        };

        // Act
        var result = await engine.DeployAsync(job, log, CancellationToken.None);

        // Assert
        Assert.Equal((DeployOutcome.Failed, DeployStep.Pull), (result.Outcome, result.Step));
        Assert.StartsWith($"cannot reach the Docker engine at {Socket}: ", result.Error);
        Assert.False(result.RolledBack);
        Assert.Contains(log.Lines, l => l.Stream == LogStreams.Stderr && l.Text.Contains("cannot reach the Docker engine"));
    }

    [Fact]
    public async Task A_socket_file_nobody_listens_on_is_reported_as_such()
    {
        // Arrange: a socket that is bound but never listens, as a crashed daemon leaves its file behind.
        var path = Path.Combine(Path.GetTempPath(), $"deploybot-dead-{Guid.NewGuid():N}.sock");
        using var bound = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        bound.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        using var docker = new DockerClient(DockerEndpoint.Parse($"unix://{path}"), TimeProvider.System);

        try
        {
            // Act
            var error = await Assert.ThrowsAsync<DockerUnavailableException>(() => docker.PingAsync(CancellationToken.None));

            // Assert
            Assert.Equal($"cannot reach the Docker engine at unix://{path}: nothing listens on {path} (is dockerd running?)", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_ping_against_a_wrong_socket_throws_docker_unavailable()
    {
        using var docker = new DockerClient(DockerEndpoint.Parse(Socket), TimeProvider.System);
        var error = await Assert.ThrowsAsync<DockerUnavailableException>(() => docker.PingAsync(CancellationToken.None));
        Assert.Equal(
            $"cannot reach the Docker engine at {Socket}: no socket at /tmp/deploybot-no-such-docker.sock (is dockerd running, and is DOCKER_HOST right?)",
            error.Message);
    }
}
