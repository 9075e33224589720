using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;
using DeployBot.Agent.Tests.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace DeployBot.Agent.Tests.Deploy;

/// <summary>The deploy state machine against an in-memory engine and a fake clock.</summary>
public sealed class DeployEngineTests
{
    private const string V1 = "registry.test/acme/web:v1";
    private const string V2 = "registry.test/acme/web:v2";

    private readonly FakeDockerClient _docker = new();
    private readonly FakeTimeProvider _time = new();
    private readonly RecordingDeployLog _log = new();
    private FakeHealthProbe _probe = FakeHealthProbe.Healthy();

    public DeployEngineTests()
    {
        _docker.RegistryImages.UnionWith([V1, V2]);
    }

    private static DeployJob Job(string image = V2, HealthSpec? health = null, bool noHealth = false, params string[] ports) => new()
    {
        JobId = "job-7",
        App = "web",
        Sha = "6113728f2d1e3c4b5a69788796a5b4c3d2e1f001",
        Deploy = new DeploySpec
        {
            Image = image,
            Container = "web",
            Ports = ports.Length > 0 ? ports : ["127.0.0.1:8080:80"],
            Env = new Dictionary<string, string> { ["APP_ENV"] = "production" },
            Health = noHealth ? null : health ?? new HealthSpec { Url = "http://127.0.0.1:8080/up", Timeout = 10 },
        },
    };

    private DeployEngine Engine() => new(_docker, _probe, _time, new DeployEngineOptions());

    /// <summary>Runs the deploy, moving the fake clock on while it waits.</summary>
    private async Task<DeployResult> RunAsync(DeployJob job, CancellationToken cancellationToken = default, Action<TimeSpan>? tick = null)
    {
        var task = Engine().DeployAsync(job, _log, cancellationToken);
        var elapsed = TimeSpan.Zero;
        for (var i = 0; i < 10_000 && !task.IsCompleted; i++)
        {
            await Task.Delay(1);
            _time.Advance(TimeSpan.FromMilliseconds(250));
            elapsed += TimeSpan.FromMilliseconds(250);
            tick?.Invoke(elapsed);
        }
        Assert.True(task.IsCompleted, "the deploy never finished:\n" + _log.Text);
        return await task;
    }

    [Fact]
    public async Task First_deploy_creates_and_starts_the_container_without_touching_anything_else()
    {
        // Arrange: an empty host.

        // Act
        var result = await RunAsync(Job());

        // Assert
        Assert.Equal(DeployOutcome.Succeeded, result.Outcome);
        var web = Assert.Single(_docker.Containers);
        Assert.Equal(("web", V2, true), (web.Name, web.Image, web.Running));
        Assert.Equal(web.Id, result.ContainerId);
        Assert.Equal(["pull " + V2, "inspect web", "create web", $"start {web.Id}"], _docker.Calls.Take(4));
        Assert.DoesNotContain(_docker.Calls, c => c.StartsWith("rename") || c.StartsWith("stop") || c.StartsWith("remove"));
        Assert.Contains("first deploy", _log.Text);
        Assert.Null(result.Summary);
    }

    [Fact]
    public async Task A_healthy_deploy_replaces_the_running_container_and_keeps_the_old_image()
    {
        // Arrange
        var old = _docker.Add("web", V1);

        // Act
        var result = await RunAsync(Job());

        // Assert
        Assert.Equal(DeployOutcome.Succeeded, result.Outcome);
        var web = Assert.Single(_docker.Containers);
        Assert.Equal(("web", V2, true), (web.Name, web.Image, web.Running));
        Assert.Equal(
            ["pull " + V2, "inspect web", $"rename {old.Id} web-previous-job-7", $"stop {old.Id}", "create web", $"start {web.Id}"],
            _docker.Calls.Where(c => !c.StartsWith("inspect 0")).Take(6));
        Assert.Equal($"remove {old.Id}", _docker.Calls[^1]);
        Assert.Contains(V1, _docker.LocalImages);
        Assert.Equal(1, _probe.Attempts);
        Assert.Equal("job-7", web.Body["Labels"]!["deploybot.job"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_failing_health_check_removes_the_new_container_and_restarts_the_previous_one()
    {
        // Arrange
        var old = _docker.Add("web", V1);
        _probe = FakeHealthProbe.Failing("HTTP 503");
        _docker.AfterStart = c => c.Output.Add(("stderr", "boom: missing DATABASE_URL"));

        // Act
        var result = await RunAsync(Job(health: new HealthSpec { Url = "http://127.0.0.1:8080/up", Timeout = 5 }));

        // Assert
        Assert.Equal(DeployOutcome.Failed, result.Outcome);
        Assert.Equal(DeployStep.Health, result.Step);
        Assert.Contains("did not answer 2xx within 5s", result.Error);
        Assert.Contains("HTTP 503", result.Error);
        Assert.True(result.RolledBack);
        Assert.Null(result.RollbackError);
        var web = Assert.Single(_docker.Containers);
        Assert.Equal((old.Id, "web", true), (web.Id, web.Name, web.Running));
        Assert.InRange(_probe.Attempts, 5, 7);
        Assert.Single(_log.Lines, l => l.Text == "not healthy yet: HTTP 503");
        Assert.Contains(("stderr", "container: boom: missing DATABASE_URL"), _log.Lines);
        Assert.Equal("failed at health: " + result.Error + "; previous container restored", result.Summary);
    }

    [Fact]
    public async Task No_health_attempt_is_cut_below_the_floor_so_the_last_answer_is_a_real_one()
    {
        // Arrange: attempts 400 ms apart leave the last one starting 200 ms before the deadline, which
        // used to get only those 200 ms (on a busy host, "no answer" became the reported reason).
        _docker.Add("web", V1);
        _probe = FakeHealthProbe.Failing("HTTP 404");
        var options = new DeployEngineOptions { HealthInterval = TimeSpan.FromMilliseconds(400), HealthAttemptTimeout = TimeSpan.FromSeconds(2) };
        var engine = new DeployEngine(_docker, _probe, _time, options);

        // Act
        var task = engine.DeployAsync(Job(health: new HealthSpec { Url = "http://127.0.0.1:8080/up", Timeout = 3 }), _log, CancellationToken.None);
        for (var i = 0; i < 10_000 && !task.IsCompleted; i++)
        {
            await Task.Delay(1);
            _time.Advance(TimeSpan.FromMilliseconds(50));
        }
        var result = await task;

        // Assert
        Assert.Equal((DeployOutcome.Failed, DeployStep.Health), (result.Outcome, result.Step));
        Assert.EndsWith("last: HTTP 404)", result.Error);
        Assert.All(_probe.Timeouts, t => Assert.InRange(t, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)));
        Assert.Equal(TimeSpan.FromSeconds(2), _probe.Timeouts[0]);
    }

    [Fact]
    public async Task A_new_container_that_exits_fails_at_once_without_waiting_for_the_timeout()
    {
        // Arrange
        _docker.Add("web", V1);
        _probe = FakeHealthProbe.Failing("Connection refused");
        _docker.AfterStart = c => { if (c.Image == V2) { c.Running = false; c.ExitCode = 3; } };

        // Act
        var result = await RunAsync(Job(health: new HealthSpec { Url = "http://127.0.0.1:8080/up", Timeout = 300 }));

        // Assert
        Assert.Equal((DeployOutcome.Failed, DeployStep.Health), (result.Outcome, result.Step));
        Assert.Contains("exit code 3", result.Error);
        Assert.Equal(1, _probe.Attempts);
        Assert.True(_docker.Named("web")!.Running);
    }

    [Fact]
    public async Task A_pull_failure_for_an_image_not_on_the_host_fails_at_pull_and_touches_nothing()
    {
        // Arrange
        var old = _docker.Add("web", V1);

        // Act
        var result = await RunAsync(Job(image: "registry.test/acme/web:gone"));

        // Assert
        Assert.Equal((DeployOutcome.Failed, DeployStep.Pull), (result.Outcome, result.Step));
        Assert.Contains("cannot pull registry.test/acme/web:gone", result.Error);
        Assert.Contains("manifest unknown", result.Error);
        Assert.False(result.RolledBack);
        Assert.Equal(["pull registry.test/acme/web:gone", "image-exists registry.test/acme/web:gone"], _docker.Calls);
        Assert.Equal((old.Id, "web", true), (_docker.Containers[0].Id, _docker.Containers[0].Name, _docker.Containers[0].Running));
        Assert.Contains("nothing on this host was changed", _log.Text);
    }

    [Fact]
    public async Task A_pull_failure_for_an_image_already_on_the_host_deploys_the_local_copy()
    {
        // Arrange: a rollback to an older release whose tag the registry no longer serves.
        _docker.Add("web", V2);
        _docker.LocalImages.Add("registry.test/acme/web:v0");

        // Act
        var result = await RunAsync(Job(image: "registry.test/acme/web:v0"));

        // Assert
        Assert.Equal(DeployOutcome.Succeeded, result.Outcome);
        Assert.Equal("registry.test/acme/web:v0", Assert.Single(_docker.Containers).Image);
        Assert.Contains(_log.Lines, l => l.Stream == "stderr" && l.Text.Contains("using the copy of registry.test/acme/web:v0 already on this host"));
    }

    [Fact]
    public async Task An_unreachable_engine_fails_at_pull_with_the_engine_address()
    {
        // Arrange
        _docker.BeforeCall = _ => throw new DockerUnavailableException("cannot reach the Docker engine at unix:///nowhere.sock: No such file or directory");

        // Act
        var result = await RunAsync(Job());

        // Assert
        Assert.Equal((DeployOutcome.Failed, DeployStep.Pull), (result.Outcome, result.Step));
        Assert.Equal("cannot reach the Docker engine at unix:///nowhere.sock: No such file or directory", result.Error);
        Assert.Single(_docker.Calls);
    }

    [Fact]
    public async Task Cancelling_during_the_health_wait_puts_the_previous_container_back()
    {
        // Arrange
        var old = _docker.Add("web", V1);
        _probe = FakeHealthProbe.Failing("Connection refused");
        using var cts = new CancellationTokenSource();

        // Act: cancel three (fake) seconds into a 30 second health wait.
        var result = await RunAsync(
            Job(health: new HealthSpec { Url = "http://127.0.0.1:8080/up", Timeout = 30 }),
            cts.Token,
            tick: elapsed => { if (elapsed >= TimeSpan.FromSeconds(3)) cts.Cancel(); });

        // Assert
        Assert.Equal((DeployOutcome.Cancelled, DeployStep.Health), (result.Outcome, result.Step));
        Assert.True(result.RolledBack);
        var web = Assert.Single(_docker.Containers);
        Assert.Equal((old.Id, "web", true), (web.Id, web.Name, web.Running));
        Assert.InRange(_probe.Attempts, 2, 8);
        Assert.StartsWith("cancelled at health: the job was cancelled", result.Summary);
    }

    [Theory]
    // The cancel lands before the call reaches the engine: the step it was in is reported.
    [InlineData("pull", true, DeployStep.Pull, false)]
    [InlineData("rename", true, DeployStep.StopPrevious, true)]
    [InlineData("stop", true, DeployStep.StopPrevious, true)]
    [InlineData("create", true, DeployStep.Create, true)]
    [InlineData("start", true, DeployStep.Start, true)]
    // The engine carried the call out but the answer was lost to the cancel: the next call sees it.
    [InlineData("pull", false, DeployStep.StopPrevious, false)]
    [InlineData("rename", false, DeployStep.StopPrevious, true)]
    [InlineData("stop", false, DeployStep.Create, true)]
    [InlineData("create", false, DeployStep.Start, true)]
    [InlineData("start", false, DeployStep.Health, true)]
    public async Task Cancelling_at_any_step_leaves_the_previous_container_running_under_its_name(
        string call, bool beforeEngine, DeployStep step, bool restored)
    {
        // Arrange
        var old = _docker.Add("web", V1);
        using var cts = new CancellationTokenSource();
        _docker.BeforeCall = c =>
        {
            if (c.StartsWith(call) && !cts.IsCancellationRequested)
            {
                cts.Cancel();
                if (beforeEngine)
                {
                    throw new OperationCanceledException(cts.Token);
                }
            }
        };

        // Act
        var result = await RunAsync(Job(), cts.Token);

        // Assert
        Assert.Equal((DeployOutcome.Cancelled, step), (result.Outcome, result.Step));
        Assert.Equal(restored, result.RolledBack);
        var web = Assert.Single(_docker.Containers);
        Assert.Equal((old.Id, "web", true), (web.Id, web.Name, web.Running));
    }

    [Fact]
    public async Task A_start_failure_removes_the_new_container_and_restarts_the_previous_one()
    {
        // Arrange
        var old = _docker.Add("web", V1);
        _docker.BeforeCall = c =>
        {
            if (c.StartsWith("start") && !c.Contains(old.Id))
            {
                throw new DockerApiException(500, "driver failed programming external connectivity: port is already allocated", "POST /containers/x/start");
            }
        };

        // Act
        var result = await RunAsync(Job());

        // Assert
        Assert.Equal((DeployOutcome.Failed, DeployStep.Start), (result.Outcome, result.Step));
        Assert.Contains("port is already allocated", result.Error);
        Assert.True(result.RolledBack);
        Assert.Equal((old.Id, "web", true), (_docker.Containers.Single().Id, _docker.Containers.Single().Name, _docker.Containers.Single().Running));
    }

    [Fact]
    public async Task A_previous_container_that_was_stopped_is_put_back_stopped()
    {
        // Arrange
        var old = _docker.Add("web", V1, running: false);
        _probe = FakeHealthProbe.Failing();

        // Act
        var result = await RunAsync(Job(health: new HealthSpec { Url = "http://127.0.0.1:8080/up", Timeout = 2 }));

        // Assert
        Assert.Equal(DeployOutcome.Failed, result.Outcome);
        Assert.True(result.RolledBack);
        var web = Assert.Single(_docker.Containers);
        Assert.Equal((old.Id, "web", false), (web.Id, web.Name, web.Running));
        Assert.DoesNotContain($"stop {old.Id}", _docker.Calls);
        Assert.DoesNotContain($"start {old.Id}", _docker.Calls);
    }

    [Fact]
    public async Task A_failed_first_deploy_leaves_no_container_behind()
    {
        // Arrange
        _probe = FakeHealthProbe.Failing();

        // Act
        var result = await RunAsync(Job(health: new HealthSpec { Url = "http://127.0.0.1:8080/up", Timeout = 2 }));

        // Assert
        Assert.Equal((DeployOutcome.Failed, DeployStep.Health), (result.Outcome, result.Step));
        Assert.False(result.RolledBack);
        Assert.Null(result.RollbackError);
        Assert.Empty(_docker.Containers);
    }

    [Fact]
    public async Task A_rollback_that_cannot_rename_back_is_reported()
    {
        // Arrange
        var old = _docker.Add("web", V1);
        _probe = FakeHealthProbe.Failing();
        _docker.BeforeCall = c =>
        {
            if (c == $"rename {old.Id} web")
            {
                throw new DockerApiException(500, "rename failed", $"POST /containers/{old.Id}/rename?name=web");
            }
        };

        // Act
        var result = await RunAsync(Job(health: new HealthSpec { Url = "http://127.0.0.1:8080/up", Timeout = 2 }));

        // Assert
        Assert.Equal(DeployOutcome.Failed, result.Outcome);
        Assert.False(result.RolledBack);
        Assert.StartsWith("rename failed", result.RollbackError);
        Assert.Contains("rollback failed: rename failed", result.Summary);
    }

    [Fact]
    public async Task Without_a_health_url_a_container_that_stays_up_succeeds_and_one_that_exits_fails()
    {
        // Arrange
        _docker.Add("web", V1);

        // Act
        var ok = await RunAsync(Job(noHealth: true));
        _docker.AfterStart = c => { if (c.Image == V1) { c.Running = false; } };
        var failed = await RunAsync(Job(image: V1, noHealth: true) with { JobId = "job-8" });

        // Assert
        Assert.Equal(DeployOutcome.Succeeded, ok.Outcome);
        Assert.Equal((DeployOutcome.Failed, DeployStep.Health), (failed.Outcome, failed.Step));
        Assert.Contains("the new container stopped", failed.Error);
        Assert.Equal(0, _probe.Attempts);
        Assert.Equal((V2, true), (_docker.Named("web")!.Image, _docker.Named("web")!.Running));
    }

    [Theory]
    [InlineData("8080", "port \"8080\" must look like")]
    [InlineData("localhost:8080:80", "\"localhost\" is not an IP address")]
    public async Task An_invalid_spec_fails_at_validate_before_any_engine_call(string port, string message)
    {
        // Arrange
        _docker.Add("web", V1);

        // Act
        var result = await RunAsync(Job(ports: port));

        // Assert
        Assert.Equal((DeployOutcome.Failed, DeployStep.Validate), (result.Outcome, result.Step));
        Assert.Contains(message, result.Error);
        Assert.Empty(_docker.Calls);
    }

    [Fact]
    public void The_parked_name_of_the_previous_container_is_a_valid_container_name()
    {
        Assert.Equal("web-previous-job-7", DeployEngine.PreviousName("web", "job-7"));
        Assert.Equal("web-previous-01J-X-Y", DeployEngine.PreviousName("web", "01J/X:Y"));
    }
}
