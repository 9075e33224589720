using System.Text.Json.Nodes;
using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;
using DeployBot.Agent.Tests.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace DeployBot.Agent.Tests.Deploy;

/// <summary>Crash recovery from the engine's state: what an interrupted deploy left behind is undone.</summary>
public sealed class InterruptedDeployRecoveryTests
{
    private readonly FakeDockerClient _docker = new();
    private readonly RecordingDeployLog _log = new();

    private Task<RecoveryResult> Recover() =>
        new InterruptedDeployRecovery(_docker, new FakeTimeProvider()).RecoverAsync("job-9", "web", _log, CancellationToken.None);

    private FakeDockerClient.Container NewRelease(string job = "job-9")
    {
        var container = _docker.Add("web", "acme/web:broken");
        container.Body["Labels"] = new JsonObject { [ContainerCreateBody.JobLabel] = job };
        return container;
    }

    [Fact]
    public async Task The_new_container_is_removed_and_the_parked_one_renamed_back_and_started()
    {
        // Arrange
        var previous = _docker.Add("web-previous-job-9", "acme/web:v2", running: false);
        NewRelease();

        // Act
        var result = await Recover();

        // Assert
        Assert.Equal(new RecoveryResult(true, null), result);
        var web = Assert.Single(_docker.Containers);
        Assert.Equal((previous.Id, "web", true), (web.Id, web.Name, web.Running));
        Assert.Equal("; previous container restored", result.Suffix);
    }

    [Fact]
    public async Task Without_a_parked_container_only_the_jobs_own_container_is_removed()
    {
        // Arrange: the crash came during a first deploy
        NewRelease();

        // Act
        var result = await Recover();

        // Assert
        Assert.Equal(new RecoveryResult(false, null), result);
        Assert.Empty(_docker.Containers);
        Assert.Equal("", result.Suffix);
    }

    [Fact]
    public async Task A_container_of_another_job_holding_the_name_is_left_alone()
    {
        // Arrange
        _docker.Add("web-previous-job-9", "acme/web:v2", running: false);
        var other = NewRelease(job: "job-10");

        // Act
        var result = await Recover();

        // Assert
        Assert.False(result.Restored);
        Assert.Contains("stays parked as web-previous-job-9", result.Problem);
        Assert.Equal("web", _docker.Containers.Single(c => c.Id == other.Id).Name);
        Assert.Equal(2, _docker.Containers.Count);
    }

    [Fact]
    public async Task A_failing_engine_is_reported_not_thrown()
    {
        // Arrange
        _docker.BeforeCall = call => throw new DockerUnavailableException("no engine at /fake/docker.sock");

        // Act
        var result = await Recover();

        // Assert
        Assert.False(result.Restored);
        Assert.Equal("; recovery failed: no engine at /fake/docker.sock", result.Suffix);
    }
}
