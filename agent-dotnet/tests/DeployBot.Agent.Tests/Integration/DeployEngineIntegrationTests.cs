using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;
using DeployBot.Agent.Tests.Fakes;
using Xunit.Abstractions;

namespace DeployBot.Agent.Tests.Integration;

/// <summary>
/// Deploys the busybox test images to the real engine, each test with its own container name and
/// host port on 127.0.0.1, and checks what the engine holds and what the port serves afterwards.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class DeployEngineIntegrationTests(DockerFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _name = $"dbit-{Guid.NewGuid():N}"[..13];
    private readonly int _port = FreePort();
    private readonly RecordingDeployLog _log = new();
    private readonly List<string> _extraImages = [];
    private readonly HttpHealthProbe _probe = new(TimeProvider.System);

    private IDockerClient Docker => fixture.Docker;

    // busybox httpd runs as PID 1 and ignores SIGTERM, so a stop always waits out the grace: keep it short.
    private DeployEngine Engine(IDockerClient? docker = null) => new(docker ?? Docker, _probe, TimeProvider.System, new DeployEngineOptions
    {
        StopGrace = TimeSpan.FromSeconds(1),
        HealthInterval = TimeSpan.FromMilliseconds(200),
        HealthAttemptTimeout = TimeSpan.FromSeconds(2),
    });

    private DeployJob Job(string tag, double healthTimeout = 15, string jobId = "") => new()
    {
        JobId = jobId.Length > 0 ? jobId : $"it-{tag}-{Guid.NewGuid():N}"[..20],
        App = "hello",
        Sha = "6113728f2d1e3c4b5a69788796a5b4c3d2e1f001",
        Deploy = new DeploySpec
        {
            Image = tag.Contains('/') ? tag : DockerFixture.Image(tag),
            Container = _name,
            Ports = [$"127.0.0.1:{_port}:80"],
            Env = new Dictionary<string, string> { ["APP_ENV"] = "test", ["GREETING"] = "hello world" },
            Health = new HealthSpec { Url = $"http://127.0.0.1:{_port}/up", Timeout = healthTimeout },
        },
    };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // The deploy log, shown with the result of a failed test (and of every test at detailed verbosity).
        output.WriteLine(_log.Text);
        foreach (var name in await Docker.ListContainerNamesAsync(_name, CancellationToken.None))
        {
            await Docker.RemoveContainerAsync(name, CancellationToken.None);
        }
        foreach (var image in _extraImages)
        {
            await fixture.Docker.SendRawAsync(new DockerRequest("DELETE", $"/images/{image}"), CancellationToken.None);
        }
        _probe.Dispose();
    }

    [Fact]
    public async Task Deploying_v1_then_v2_replaces_the_container_and_serves_v2()
    {
        // Arrange
        var first = await Engine().DeployAsync(Job("v1"), _log, CancellationToken.None);
        Assert.True(first.Outcome == DeployOutcome.Succeeded, _log.Text);
        Assert.Equal("hello v1", await ServedAsync());

        // Act
        var job = Job("v2");
        var second = await Engine().DeployAsync(job, _log, CancellationToken.None);

        // Assert
        Assert.True(second.Outcome == DeployOutcome.Succeeded, _log.Text);
        Assert.Equal("hello v2", await ServedAsync());
        Assert.Equal([_name], await Docker.ListContainerNamesAsync(_name, CancellationToken.None));
        var current = (await Docker.InspectContainerAsync(_name, CancellationToken.None))!;
        Assert.Equal((second.ContainerId, true), (current.Id, current.Running));
        Assert.Equal(("hello", job.Sha, job.JobId),
            (current.Labels["deploybot.app"], current.Labels["deploybot.sha"], current.Labels["deploybot.job"]));
        using var raw = JsonDocument.Parse(await fixture.Docker.SendRawAsync(DockerRequest.InspectContainer(_name), CancellationToken.None));
        var env = raw.RootElement.GetProperty("Config").GetProperty("Env").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains("APP_ENV=test", env);
        Assert.Contains("GREETING=hello world", env);
        Assert.True(await Docker.ImageExistsAsync(DockerFixture.Image("v1"), CancellationToken.None), "the previous release's image must be kept");
    }

    [Fact]
    public async Task A_deploy_pulls_an_image_the_host_does_not_have_yet()
    {
        // Arrange: drop the local copy of v2 (a container still using it would keep it: there is none).
        await fixture.Docker.SendRawAsync(new DockerRequest("DELETE", $"/images/{DockerFixture.Image("v2")}"), CancellationToken.None);
        Assert.False(await Docker.ImageExistsAsync(DockerFixture.Image("v2"), CancellationToken.None));

        // Act
        var result = await Engine().DeployAsync(Job("v2"), _log, CancellationToken.None);

        // Assert
        Assert.True(result.Outcome == DeployOutcome.Succeeded, _log.Text);
        Assert.Contains(_log.Lines, l => l.Text.StartsWith("pull: ") && l.Text.Contains("Downloaded newer image"));
        Assert.DoesNotContain(_log.Lines, l => l.Text.Contains("Downloading"));
        Assert.True(await Docker.ImageExistsAsync(DockerFixture.Image("v2"), CancellationToken.None));
        Assert.Equal("hello v2", await ServedAsync());
    }

    [Fact]
    public async Task A_failing_health_check_rolls_back_to_the_old_container_which_serves_again()
    {
        // Arrange
        var old = await DeployV1Async();

        // Act
        var result = await Engine().DeployAsync(Job("broken", healthTimeout: 3), _log, CancellationToken.None);

        // Assert
        Assert.True(result.Outcome == DeployOutcome.Failed, _log.Text);
        Assert.Equal(DeployStep.Health, result.Step);
        Assert.Contains("HTTP 404", result.Error);
        Assert.True(result.RolledBack, _log.Text);
        await AssertTheOldContainerServesAsync(old);
    }

    [Fact]
    public async Task An_image_missing_from_the_registry_fails_at_pull_and_leaves_the_old_container_untouched()
    {
        // Arrange
        var before = await DeployV1Async();

        // Act
        var result = await Engine().DeployAsync(Job("no-such-tag"), _log, CancellationToken.None);

        // Assert
        Assert.Equal((DeployOutcome.Failed, DeployStep.Pull), (result.Outcome, result.Step));
        Assert.StartsWith($"cannot pull {DockerFixture.Image("no-such-tag")}: ", result.Error);
        Assert.Contains("not found", result.Error);
        var after = (await Docker.InspectContainerAsync(_name, CancellationToken.None))!;
        Assert.Equal((before.Id, before.Name, true, before.StartedAt), (after.Id, after.Name, after.Running, after.StartedAt));
        Assert.Equal("hello v1", await ServedAsync());
    }

    [Fact]
    public async Task A_tag_the_registry_lost_but_the_host_has_deploys_from_the_local_copy()
    {
        // Arrange: v1 re-tagged on this host only, never pushed.
        Assert.Equal(DeployOutcome.Succeeded, (await Engine().DeployAsync(Job("v2"), _log, CancellationToken.None)).Outcome);
        var tag = $"local-{Guid.NewGuid():N}"[..14];
        await fixture.Docker.SendRawAsync(
            new DockerRequest("POST", $"/images/{DockerFixture.Image("v1")}/tag?repo={Uri.EscapeDataString($"{DockerFixture.Registry}/deploybot/hello")}&tag={tag}"),
            CancellationToken.None);
        _extraImages.Add(DockerFixture.Image(tag));

        // Act
        var result = await Engine().DeployAsync(Job(tag), _log, CancellationToken.None);

        // Assert
        Assert.True(result.Outcome == DeployOutcome.Succeeded, _log.Text);
        Assert.Contains(_log.Lines, l => l.Stream == LogStreams.Stderr && l.Text.Contains("already on this host"));
        Assert.Equal("hello v1", await ServedAsync());
    }

    [Fact]
    public async Task Cancelling_during_the_health_wait_puts_the_old_container_back()
    {
        // Arrange
        var old = await DeployV1Async();
        using var cts = new CancellationTokenSource();
        _log.OnWrite = text => { if (text.StartsWith("not healthy yet", StringComparison.Ordinal)) cts.Cancel(); };
        var clock = Stopwatch.StartNew();

        // Act: a 60 s health wait on the broken image, cancelled at its first failed attempt.
        var result = await Engine().DeployAsync(Job("broken", healthTimeout: 60), _log, cts.Token);

        // Assert
        Assert.True(result.Outcome == DeployOutcome.Cancelled, _log.Text);
        Assert.Equal(DeployStep.Health, result.Step);
        Assert.True(result.RolledBack, _log.Text);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        await AssertTheOldContainerServesAsync(old);
    }

    [Fact]
    public async Task Cancelling_while_the_old_container_stops_puts_it_back()
    {
        // Arrange
        var old = await DeployV1Async();
        using var cts = new CancellationTokenSource();
        _log.OnWrite = text => { if (text.StartsWith("stopping ", StringComparison.Ordinal)) cts.CancelAfter(300); };

        // Act
        var result = await Engine().DeployAsync(Job("v2"), _log, cts.Token);

        // Assert
        Assert.True(result.Outcome == DeployOutcome.Cancelled, _log.Text);
        Assert.True(result.RolledBack, _log.Text);
        await AssertTheOldContainerServesAsync(old);
    }

    [Fact]
    public async Task A_failed_first_deploy_leaves_no_container()
    {
        // Act
        var result = await Engine().DeployAsync(Job("broken", healthTimeout: 2), _log, CancellationToken.None);

        // Assert
        Assert.Equal((DeployOutcome.Failed, DeployStep.Health), (result.Outcome, result.Step));
        Assert.Empty(await Docker.ListContainerNamesAsync(_name, CancellationToken.None));
    }

    /// <summary>Deploys v1 (it must succeed) and returns its container: the "old" one of a replacing deploy.</summary>
    private async Task<ContainerInfo> DeployV1Async()
    {
        Assert.Equal(DeployOutcome.Succeeded, (await Engine().DeployAsync(Job("v1"), _log, CancellationToken.None)).Outcome);
        return (await Docker.InspectContainerAsync(_name, CancellationToken.None))!;
    }

    /// <summary>After a rollback: <paramref name="old"/> runs again under the name, alone, and serves v1.</summary>
    private async Task AssertTheOldContainerServesAsync(ContainerInfo old)
    {
        var now = (await Docker.InspectContainerAsync(_name, CancellationToken.None))!;
        Assert.Equal((old.Id, true), (now.Id, now.Running));
        Assert.Equal([_name], await Docker.ListContainerNamesAsync(_name, CancellationToken.None));
        Assert.Equal("hello v1", await ServedAsync());
    }

    /// <summary>The body served on / of the test port, retried while the container comes up.</summary>
    private async Task<string> ServedAsync()
    {
        var deadline = Stopwatch.StartNew();
        Exception? last = null;
        while (deadline.Elapsed < TimeSpan.FromSeconds(15))
        {
            try
            {
                return (await fixture.Http.GetStringAsync($"http://127.0.0.1:{_port}/")).Trim();
            }
            catch (HttpRequestException ex)
            {
                last = ex;
                await Task.Delay(200);
            }
        }
        throw new Xunit.Sdk.XunitException($"nothing served on 127.0.0.1:{_port}: {last?.Message}\n{_log.Text}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
