using System.Net;
using DeployBot.Agent.Agent;
using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;
using DeployBot.Agent.Protocol;
using DeployBot.Agent.State;
using DeployBot.Agent.Tests.Fakes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Xunit.Sdk;

namespace DeployBot.Agent.Tests.Agent;

/// <summary>The agent's protocol loop against an in-memory controller, a scripted engine and a fake clock.</summary>
public sealed class AgentLoopTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 27, 10, 0, 0, TimeSpan.Zero));
    private readonly FakeController _controller;
    private readonly FakeDeployEngine _engine = new();
    private readonly FakeRecovery _recovery = new();
    private readonly RecordingLogger<AgentLoop> _logger = new();
    private readonly string _stateDir = Directory.CreateTempSubdirectory("deploybot-agent-tests-").FullName;
    private readonly CancellationTokenSource _stop = new();
    private Task? _running;

    public AgentLoopTests()
    {
        _controller = new FakeController(_time);
    }

    public void Dispose()
    {
        _stop.Cancel();
        Directory.Delete(_stateDir, recursive: true);
    }

    private string MarkerPath => Path.Combine(_stateDir, "in-flight.json");

    private void Start()
    {
        var settings = new AgentSettings
        {
            ControllerUrl = new Uri(FakeController.BaseUrl),
            EnrollToken = "enroll-secret",
            Hostname = "host-01",
            StateDirectory = _stateDir,
            Docker = DockerEndpoint.Default,
        };
        var client = new ControllerClient(_controller.Client(), settings.ControllerUrl, _time);
        var loop = new AgentLoop(settings, client, new FileAgentStateStore(_stateDir), new FileInFlightStore(_stateDir),
            _engine, _recovery, _time, _logger, random: () => 0);
        // On the thread pool, not xunit's synchronization context: the loop's continuations then run while the test waits.
        _running = Task.Run(() => loop.RunAsync(_stop.Token));
    }

    /// <summary>Moves the fake clock on in small steps, letting the agent run between them, until <paramref name="condition"/> holds.</summary>
    private async Task Until(Func<bool> condition, string what, double maxSeconds = 300, double step = 0.5)
    {
        for (var elapsed = 0.0; elapsed <= maxSeconds; elapsed += step)
        {
            for (var i = 0; i < 2; i++)
            {
                if (condition())
                {
                    return;
                }
                // Real time for the agent's continuations to run before the clock moves again.
                await Task.Delay(1);
            }
            if (_running is { IsCompleted: true } && !condition())
            {
                await _running;
                throw new XunitException($"the agent stopped before {what}\n{_logger.Text}");
            }
            _time.Advance(TimeSpan.FromSeconds(step));
        }
        throw new XunitException($"no {what} within {maxSeconds} fake seconds\n{_logger.Text}");
    }

    private List<FakeController.Call> Heartbeats(string? runningJobId = null, bool busy = false) =>
        _controller.CallsTo("/heartbeat")
            .Where(c => !busy || (string?)c.Body?["running_job_id"] == runningJobId)
            .ToList();

    private static Func<DeployJob, IDeployLog, CancellationToken, Task<DeployResult>> UntilCancelled => async (_, log, ct) =>
    {
        log.Write(LogStreams.Stdout, "waiting for health");
        await Task.Delay(Timeout.InfiniteTimeSpan, ct);
        throw new InvalidOperationException("unreachable");
    };

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task An_idle_agent_registers_keeps_its_identity_0600_and_long_polls_back_to_back()
    {
        // Arrange
        Start();

        // Act
        await Until(() => Heartbeats().Count >= 3, "three idle heartbeats");

        // Assert
        var register = Assert.Single(_controller.CallsTo("/register"));
        Assert.Equal("host-01", (string?)register.Body!["hostname"]);
        Assert.Null(register.Body["previous_agent_id"]);
        var saved = new FileAgentStateStore(_stateDir).Load()!;
        Assert.Equal(("agent-1", "agent-1.secret"), (saved.AgentId, saved.Token));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_stateDir, "agent.json")));
        var beats = Heartbeats();
        Assert.All(beats, b => Assert.Equal(50, b.Wait));
        Assert.All(beats, b => Assert.Null((string?)b.Body!["running_job_id"]));
        // Each held for the full 50 s, and the next sent as soon as the answer came.
        Assert.Equal(50, (beats[1].At - beats[0].At).TotalSeconds, 0.6);
        Assert.Equal(50, (beats[2].At - beats[1].At).TotalSeconds, 0.6);
    }

    [Fact]
    public async Task Stopping_an_idle_agent_ends_its_long_poll_at_once()
    {
        // Arrange
        Start();
        await Until(() => _controller.CallsTo("/register").Count == 1, "registration", step: 0.01);

        // Act
        _stop.Cancel();
        await Until(() => _running!.IsCompleted, "the loop to return", maxSeconds: 1, step: 0.01);

        // Assert
        await _running!;
        Assert.Empty(Heartbeats());
    }

    [Fact]
    public async Task A_saved_identity_is_reused_and_a_401_registers_again_naming_the_old_id()
    {
        // Arrange
        new FileAgentStateStore(_stateDir).Save(new SavedIdentity(FakeController.BaseUrl, "host-01", "agent-old", "agent-old.secret"));
        _controller.Know("agent-old", "agent-old.secret");
        Start();
        await Until(() => _controller.Arrivals.Count(p => p.EndsWith("/heartbeat")) >= 1, "a heartbeat with the saved token");
        Assert.Empty(_controller.CallsTo("/register"));

        // Act
        _controller.Forget("agent-old.secret");
        await Until(() => Heartbeats().Count(b => b.Status == 200) >= 2, "a heartbeat after registering again");

        // Assert
        var register = Assert.Single(_controller.CallsTo("/register"));
        Assert.Equal("agent-old", (string?)register.Body!["previous_agent_id"]);
        Assert.Single(Heartbeats(), b => b.Status == 401);
        Assert.Equal("agent-1", new FileAgentStateStore(_stateDir).Load()!.AgentId);
    }

    [Fact]
    public async Task A_revoked_agent_stops_for_good_and_does_not_register_again()
    {
        // Arrange
        new FileAgentStateStore(_stateDir).Save(new SavedIdentity(FakeController.BaseUrl, "host-01", "agent-old", "agent-old.secret"));
        _controller.Know("agent-old", "agent-old.secret");
        Start();
        await Until(() => _controller.Arrivals.Count(p => p.EndsWith("/heartbeat")) >= 1, "a heartbeat with the saved token");

        // Act
        _controller.Revoke("agent-old.secret");
        await Until(() => _running!.IsCompleted, "the loop to stop", maxSeconds: 120, step: 0.5);

        // Assert
        var stopped = await Assert.ThrowsAsync<AgentFatalException>(() => _running!);
        Assert.Equal(AgentFatalException.RevokedExitCode, stopped.ExitCode);
        Assert.Contains("agent-old was revoked", stopped.Message);
        Assert.Contains(Path.Combine(_stateDir, "agent.json"), stopped.Message);
        Assert.Empty(_controller.CallsTo("/register"));
        Assert.Equal("agent-old", new FileAgentStateStore(_stateDir).Load()!.AgentId);
    }

    [Fact]
    public async Task A_revocation_during_a_deploy_cancels_it_and_rolls_back_before_stopping()
    {
        // Arrange
        _engine.Script = async (_, _, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            throw new InvalidOperationException("unreachable");
        };
        Start();
        await Until(() => _controller.CallsTo("/register").Count == 1, "registering");
        _controller.Enqueue(FakeController.Job("job-9", leaseS: 30));
        await Until(() => _engine.Jobs.Count == 1, "the deploy to start");

        // Act
        _controller.Revoke("agent-1.secret");
        await Until(() => _running!.IsCompleted, "the loop to stop", maxSeconds: 120, step: 0.5);

        // Assert
        var stopped = await Assert.ThrowsAsync<AgentFatalException>(() => _running!);
        Assert.Equal(AgentFatalException.RevokedExitCode, stopped.ExitCode);
        Assert.True(_engine.LastToken.IsCancellationRequested, "the running deploy was not cancelled");
        Assert.False(File.Exists(MarkerPath), "the in-flight marker outlived the rolled-back deploy");
    }

    [Theory]
    [InlineData(9, 3)] // a third of the lease
    [InlineData(30, 5)] // at most 5 s, so a cancel is heard within 5 s
    public async Task While_a_job_runs_heartbeats_name_it_every_third_of_the_lease_at_most_5_s(double leaseS, double everyS)
    {
        // Arrange
        bool? markerDuringDeploy = null;
        _engine.Script = async (job, log, ct) =>
        {
            markerDuringDeploy = File.Exists(MarkerPath);
            log.Write(LogStreams.Stdout, "waiting for health");
            await Task.Delay(TimeSpan.FromSeconds(35), _time, ct);
            return new DeployResult(DeployOutcome.Succeeded, DeployStep.RemovePrevious, null, "c-new");
        };
        Start();
        await Until(() => Heartbeats().Count >= 1, "an idle heartbeat");

        // Act
        _controller.Enqueue(FakeController.Job("job-1", attempt: 2, leaseS: leaseS));
        await Until(() => _controller.ReportsSnapshot().Count == 2, "the final report");
        await Until(() => Heartbeats().Any(b => b.Wait == 50 && b.At > Heartbeats("job-1", busy: true)[^1].At), "an idle heartbeat after the job");

        // Assert
        Assert.Equal(
            [new("job-1", "running", 2, null), new("job-1", "succeeded", 2, null)],
            _controller.ReportsSnapshot());
        var busy = Heartbeats("job-1", busy: true);
        // One at each multiple of everyS before the 35 s deploy ends, and perhaps one more as it ends.
        var expected = (int)Math.Ceiling(35 / everyS);
        Assert.InRange(busy.Count, expected, expected + 1);
        Assert.All(busy, b => Assert.Equal(0, b.Wait));
        for (var i = 1; i < busy.Count; i++)
        {
            Assert.InRange((busy[i].At - busy[i - 1].At).TotalSeconds, everyS - 0.1, everyS + 0.6);
        }
        Assert.True(markerDuringDeploy);
        Assert.False(File.Exists(MarkerPath));
    }

    [Fact]
    public async Task Log_lines_written_during_a_503_outage_are_resent_until_acknowledged_with_nothing_lost_or_doubled()
    {
        // Arrange
        var outage = true;
        var release = new TaskCompletionSource();
        _controller.Fault = path => outage && path.EndsWith("/logs", StringComparison.Ordinal) ? HttpStatusCode.ServiceUnavailable : null;
        _engine.Script = async (_, log, _) =>
        {
            for (var i = 1; i <= 5; i++)
            {
                log.Write(LogStreams.Stdout, $"line {i}");
            }
            await release.Task;
            for (var i = 6; i <= 1205; i++)
            {
                log.Write(LogStreams.Stdout, $"line {i}");
            }
            return new DeployResult(DeployOutcome.Succeeded, DeployStep.RemovePrevious, null, "c-new");
        };
        Start();
        _controller.Enqueue(FakeController.Job("job-1"));

        // Act
        await Until(() => _controller.CallsTo("/logs").Count >= 4, "four failed log batches");
        release.SetResult();
        await Until(() => _controller.CallsTo("/logs").Count >= 6, "more failed log batches");
        outage = false;
        await Until(() => _controller.ReportsSnapshot().Count == 2, "the final report");

        // Assert
        Assert.Equal(Enumerable.Range(1, 1205).Select(i => (long)i), _controller.Seqs("job-1"));
        var accepted = _controller.CallsTo("/logs").Where(c => c.Status == 204).ToList();
        var acceptedSeqs = accepted.SelectMany(c => c.Body!["lines"]!.AsArray().Select(l => (long)l!["seq"]!)).ToList();
        Assert.Equal(acceptedSeqs.Distinct(), acceptedSeqs); // no line acknowledged twice
        Assert.All(accepted, c => Assert.InRange(c.Body!["lines"]!.AsArray().Count, 1, 1000));
        Assert.All(_controller.CallsTo("/logs"), c => Assert.Equal(1, (int?)c.Body!["attempt"]));
        var failed = _controller.CallsTo("/logs").Where(c => c.Status == 503).ToList();
        Assert.True(failed.Count >= 6);
        Assert.All(failed, c => Assert.Equal(1, (long)c.Body!["lines"]![0]!["seq"]!)); // every resend starts at the first unacknowledged line
        // The final report comes after the last line was taken.
        Assert.True(_controller.ReportsSnapshot()[1] is { Status: "succeeded" });
        Assert.True(_controller.Calls.FindLastIndex(c => c.Path.EndsWith("/logs")) < _controller.Calls.FindIndex(c => c.Path.EndsWith("/status") && c.Body!["status"]!.ToString() == "succeeded"));
        // One warning for the outage, not one per failed try.
        Assert.Equal(1, _logger.Count(LogLevel.Warning, "sending log lines of job job-1 failed"));
        Assert.Equal(1, _logger.Count(LogLevel.Information, "the controller answers again"));
    }

    [Fact]
    public async Task A_409_on_a_log_batch_stops_the_deploy_and_nothing_more_is_sent()
    {
        // Arrange
        _controller.Fault = path => path.EndsWith("/logs", StringComparison.Ordinal) ? HttpStatusCode.Conflict : null;
        _engine.Script = UntilCancelled;
        Start();

        // Act
        _controller.Enqueue(FakeController.Job("job-1"));
        await Until(() => _engine.LastToken.IsCancellationRequested && !File.Exists(MarkerPath), "the deploy to be stopped");
        await Until(() => Heartbeats().Count(b => b.Wait == 50) >= 2, "the agent to go idle again");

        // Assert
        Assert.Single(_controller.CallsTo("/logs"));
        Assert.Equal([new("job-1", "running", 1, null)], _controller.ReportsSnapshot());
    }

    [Fact]
    public async Task A_409_on_the_running_report_abandons_the_job_before_deploying()
    {
        // Arrange
        _controller.Fault = path => path.EndsWith("/status", StringComparison.Ordinal) ? HttpStatusCode.Conflict : null;
        Start();

        // Act
        _controller.Enqueue(FakeController.Job("job-1"));
        await Until(() => _controller.CallsTo("/status").Count == 1 && Heartbeats().Count(b => b.Wait == 50) >= 2, "the agent to go idle again");

        // Assert
        Assert.Empty(_engine.Jobs);
        Assert.Single(_controller.CallsTo("/status"));
        Assert.False(File.Exists(MarkerPath));
    }

    [Fact]
    public async Task A_cancel_in_a_heartbeat_cancels_the_deploy_and_reports_it_failed_as_cancelled()
    {
        // Arrange
        _engine.Script = UntilCancelled;
        Start();
        _controller.Enqueue(FakeController.Job("job-1", leaseS: 30));
        await Until(() => _controller.ReportsSnapshot().Count == 1, "the running report");
        var cancelledAt = _time.GetUtcNow();

        // Act
        _controller.Cancel("job-1");
        await Until(() => _controller.ReportsSnapshot().Count == 2, "the final report");

        // Assert
        Assert.True(_engine.LastToken.IsCancellationRequested);
        Assert.True(_time.GetUtcNow() - cancelledAt <= TimeSpan.FromSeconds(10.5), "heard within a third of the lease");
        var final = _controller.ReportsSnapshot()[1];
        Assert.Equal(("failed", 1), (final.Status, final.Attempt));
        Assert.Equal("cancelled at health: the job was cancelled; previous container restored (cancelled by user)", final.Error);
        Assert.False(File.Exists(MarkerPath));
        Assert.Contains("cancelled during health", string.Join("\n", _controller.Logs["job-1"].Select(l => l.Text)));
    }

    [Fact]
    public async Task A_marker_left_by_a_crash_is_restored_and_reported_interrupted_before_the_first_heartbeat()
    {
        // Arrange
        new FileAgentStateStore(_stateDir).Save(new SavedIdentity(FakeController.BaseUrl, "host-01", "agent-old", "agent-old.secret"));
        _controller.Know("agent-old", "agent-old.secret");
        new FileInFlightStore(_stateDir).Save(new InFlightJob("job-9", 2, "web", "agent-old", _time.GetUtcNow()));

        // Act
        Start();
        await Until(() => _controller.Arrivals.Contains("/v1/agents/agent-old/heartbeat"), "the first heartbeat");

        // Assert
        Assert.Equal([("job-9", "web")], _recovery.Calls);
        Assert.Equal(
            [new("job-9", "failed", 2, "interrupted: agent restarted mid-deploy; previous container restored")],
            _controller.ReportsSnapshot());
        var arrivals = _controller.Arrivals;
        Assert.True(arrivals.FindIndex(p => p.EndsWith("/status")) < arrivals.FindIndex(p => p.EndsWith("/heartbeat")));
        Assert.False(File.Exists(MarkerPath));
    }

    [Fact]
    public async Task Stopping_mid_deploy_rolls_back_reports_the_job_and_returns()
    {
        // Arrange
        _engine.Script = UntilCancelled;
        Start();
        _controller.Enqueue(FakeController.Job("job-1"));
        await Until(() => _controller.ReportsSnapshot().Count == 1, "the running report");

        // Act
        _stop.Cancel();
        await Until(() => _running!.IsCompleted, "the loop to return");

        // Assert
        await _running!;
        var final = _controller.ReportsSnapshot()[^1];
        Assert.Equal("failed", final.Status);
        Assert.EndsWith("previous container restored (the agent was stopping)", final.Error);
        Assert.False(File.Exists(MarkerPath));
    }
}
