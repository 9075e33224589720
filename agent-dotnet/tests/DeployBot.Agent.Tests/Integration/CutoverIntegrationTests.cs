using System.Text.Json.Nodes;
using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;
using DeployBot.Agent.Proxy;
using DeployBot.Agent.Tests.Fakes;
using Xunit.Abstractions;

namespace DeployBot.Agent.Tests.Integration;

/// <summary>
/// Cutovers on the real engine behind a real Caddy started by each test, under a load loop against the proxy's
/// listen address: every request during a deploy must be answered by the app.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed partial class CutoverIntegrationTests(DockerFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _name = $"dbct-{Guid.NewGuid():N}"[..13];
    private readonly int _listen = CaddyProcess.FreePort();
    private readonly RecordingDeployLog _log = new();
    private readonly HttpHealthProbe _probe = new(TimeProvider.System);
    private readonly CaddyAdmin _admin = new();
    private CaddyProcess _caddy = null!;

    private IDockerClient Docker => fixture.Docker;

    private string Url => $"http://127.0.0.1:{_listen}/";

    private DeployEngine Engine(IProxyAdmin? admin = null) => new(Docker, _probe, TimeProvider.System, new DeployEngineOptions
    {
        StopGrace = TimeSpan.FromSeconds(1),
        HealthInterval = TimeSpan.FromMilliseconds(100),
        HealthAttemptTimeout = TimeSpan.FromSeconds(2),
    }, admin ?? _admin);

    private DeployJob Job(string tag, string? adminAddress = null, double healthTimeout = 15) => new()
    {
        JobId = $"ct-{tag}-{Guid.NewGuid():N}"[..20],
        App = "hello",
        Sha = "6113728f2d1e3c4b5a69788796a5b4c3d2e1f001",
        Deploy = new DeploySpec
        {
            Image = DockerFixture.Image(tag),
            Container = _name,
            Env = new Dictionary<string, string> { ["APP_ENV"] = "test" },
            Health = new HealthSpec { Path = "/up", Timeout = healthTimeout },
            Proxy = new ProxySpec { Listen = $"127.0.0.1:{_listen}", AppPort = 80, Drain = 2, Admin = adminAddress ?? _caddy.Admin },
        },
    };

    public async Task InitializeAsync() => _caddy = await CaddyProcess.StartAsync();

    public async Task DisposeAsync()
    {
        output.WriteLine(_log.Text);
        foreach (var name in await Docker.ListContainerNamesAsync(_name, CancellationToken.None))
        {
            await Docker.RemoveContainerAsync(name, CancellationToken.None);
        }
        await _caddy.DisposeAsync();
        _probe.Dispose();
        _admin.Dispose();
    }

    [Fact]
    public async Task Replacing_deploys_lose_no_request_and_leave_one_container()
    {
        // Arrange
        await DeployAsync("v1");
        await using var load = new LoadLoop(Url);
        await load.WaitForSuccessesAsync(5);

        // Act
        await DeployAsync("v2");
        await DeployAsync("slow");
        await DeployAsync("v2");
        await load.WaitForSuccessesAsync(5);

        // Assert
        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests: {string.Join("; ", load.Failures.Take(5))}\n{_log.Text}");
        output.WriteLine($"{load.Succeeded} requests answered ({load.Resent} sent again on a new connection), longest gap {load.LongestGap.TotalMilliseconds:0} ms");
        Assert.Equal([_name], await Docker.ListContainerNamesAsync(_name, CancellationToken.None));
        var live = (await Docker.InspectContainerAsync(_name, CancellationToken.None))!;
        Assert.Equal(live.PublishedAt("80/tcp"), CaddyConfig.Upstream(await _admin.GetConfigAsync(_caddy.Admin, default), CaddyConfig.RouteId(_name)));
        Assert.Equal("hello v2", (await fixture.Http.GetStringAsync(Url)).Trim());
        Assert.Contains(_log.Lines, l => l.Text.StartsWith("traffic switched to", StringComparison.Ordinal));
        Assert.Contains(_log.Lines, l => l.Text.StartsWith("old release drained after", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_release_that_fails_health_is_removed_and_the_old_one_never_stops_serving()
    {
        // Arrange
        var old = await DeployAsync("v1");
        await using var load = new LoadLoop(Url);
        await load.WaitForSuccessesAsync(5);

        // Act
        var result = await Engine().DeployAsync(Job("broken", healthTimeout: 2), _log, CancellationToken.None);
        await load.WaitForSuccessesAsync(5);

        // Assert
        Assert.Equal((DeployOutcome.Failed, DeployStep.Health), (result.Outcome, result.Step));
        Assert.EndsWith("; the previous release kept serving", result.Summary);
        Assert.Empty(load.Failures);
        await AssertOnlyAsync(old);
    }

    [Fact]
    public async Task A_cancel_during_the_health_wait_removes_the_new_container_only()
    {
        // Arrange
        var old = await DeployAsync("v1");
        await using var load = new LoadLoop(Url);
        await load.WaitForSuccessesAsync(5);
        using var cancel = new CancellationTokenSource();

        // Act: hello:slow listens only after 2 s, so the cancel lands in the health wait.
        var seen = _log.Lines.Count;
        var deploying = Engine().DeployAsync(Job("slow"), _log, cancel.Token);
        await WaitForLogAsync("waiting up to", seen);
        cancel.Cancel();
        var result = await deploying;
        await load.WaitForSuccessesAsync(5);

        // Assert
        Assert.Equal((DeployOutcome.Cancelled, DeployStep.Health), (result.Outcome, result.Step));
        Assert.Empty(load.Failures);
        await AssertOnlyAsync(old);
    }

    [Fact]
    public async Task A_missing_proxy_fails_at_the_proxy_step_and_starts_nothing()
    {
        // Arrange
        var nowhere = $"127.0.0.1:{CaddyProcess.FreePort()}";

        // Act
        var result = await Engine().DeployAsync(Job("v1", adminAddress: nowhere), _log, CancellationToken.None);

        // Assert
        Assert.Equal((DeployOutcome.Failed, DeployStep.Proxy), (result.Outcome, result.Step));
        Assert.StartsWith($"failed at proxy: no proxy answers at {nowhere} (Caddy's admin API)", result.Summary);
        Assert.Empty(await Docker.ListContainerNamesAsync(_name, CancellationToken.None));
    }

    [Fact]
    public async Task An_agent_that_dies_mid_drain_is_repaired_to_one_serving_release_at_its_next_start()
    {
        // Arrange: the deploy freezes for good where it asks Caddy how the drain goes, as a killed agent would.
        var old = await DeployAsync("v1");
        await using var load = new LoadLoop(Url);
        await load.WaitForSuccessesAsync(5);
        var frozen = new FreezingAdmin(_admin);
        var job = Job("v2");
        _ = Engine(frozen).DeployAsync(job, _log, CancellationToken.None);
        await frozen.Frozen.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // Act
        var recovery = await new InterruptedDeployRecovery(Docker, TimeProvider.System, _admin)
            .RecoverAsync(job.JobId, _name, _log, CancellationToken.None, job.Deploy.Proxy);
        await load.WaitForSuccessesAsync(5);

        // Assert
        Assert.Equal("; one release serves behind the proxy", recovery.Suffix);
        Assert.Empty(load.Failures);
        Assert.Equal([_name], await Docker.ListContainerNamesAsync(_name, CancellationToken.None));
        var live = (await Docker.InspectContainerAsync(_name, CancellationToken.None))!;
        Assert.NotEqual(old.Id, live.Id);
        Assert.Equal("hello v2", (await fixture.Http.GetStringAsync(Url)).Trim());
        Assert.Equal(DeployOutcome.Succeeded, (await Engine().DeployAsync(Job("v1"), _log, CancellationToken.None)).Outcome);
        Assert.Equal("hello v1", (await fixture.Http.GetStringAsync(Url)).Trim());
    }

    private async Task<ContainerInfo> DeployAsync(string tag)
    {
        var result = await Engine().DeployAsync(Job(tag), _log, CancellationToken.None);
        Assert.True(result.Outcome == DeployOutcome.Succeeded, $"{result.Summary}\n{_log.Text}");
        return (await Docker.InspectContainerAsync(_name, CancellationToken.None))!;
    }

    private async Task AssertOnlyAsync(ContainerInfo old)
    {
        Assert.Equal([_name], await Docker.ListContainerNamesAsync(_name, CancellationToken.None));
        Assert.Equal(old.Id, (await Docker.InspectContainerAsync(_name, CancellationToken.None))!.Id);
        Assert.Equal("hello v1", (await fixture.Http.GetStringAsync(Url)).Trim());
    }

    /// <summary>Waits for a line starting with <paramref name="start"/> among those after the first <paramref name="skip"/>.</summary>
    private async Task WaitForLogAsync(string start, int skip)
    {
        for (var i = 0; i < 300 && !_log.Lines.Skip(skip).Any(l => l.Text.StartsWith(start, StringComparison.Ordinal)); i++)
        {
            await Task.Delay(50);
        }
    }

    /// <summary>Caddy's admin API, except that the first drain poll never returns.</summary>
    private sealed class FreezingAdmin(IProxyAdmin inner) : IProxyAdmin
    {
        public TaskCompletionSource Frozen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<JsonNode?> GetConfigAsync(string admin, CancellationToken cancellationToken) => inner.GetConfigAsync(admin, cancellationToken);

        public Task LoadAsync(string admin, JsonObject config, CancellationToken cancellationToken) => inner.LoadAsync(admin, config, cancellationToken);

        public Task<int> InFlightAsync(string admin, string dial, CancellationToken cancellationToken)
        {
            Frozen.TrySetResult();
            return new TaskCompletionSource<int>().Task;
        }
    }
}
