using DeployBot.Agent.Deploy;
using DeployBot.Agent.Protocol;
using DeployBot.Agent.State;

namespace DeployBot.Agent.Agent;

/// <summary>
/// The agent's side of the protocol (docs/agent-protocol.md), start to stop:
/// <list type="number">
/// <item>an in-flight marker left by a crash is handled first: the parked container is restored and the
///   job reported <c>failed</c> ("interrupted: agent restarted mid-deploy") before any heartbeat could
///   make the controller fail it as <c>agent_restarted</c>;</item>
/// <item>idle, it long-polls (<c>wait=50</c>) and sends the next heartbeat as soon as the answer arrives;</item>
/// <item>busy, it heartbeats naming the job every lease/3 (without <c>wait</c>; see below) and passes a cancel
///   for the job to its <see cref="JobRun"/>, which rolls back and reports;</item>
/// <item>on stop (SIGTERM) it takes no new job, cancels a running deploy (which rolls back), keeps
///   heartbeating until that job is reported, then returns; <see cref="AgentSettings.DrainTimeout"/> bounds this.</item>
/// </list>
/// One job at a time: the controller never hands a second job to an agent that names a running one.
/// </summary>
public sealed class AgentLoop
{
    private const string Interrupted = "interrupted: agent restarted mid-deploy";

    private readonly AgentSettings _settings;
    private readonly IControllerClient _client;
    private readonly IInFlightStore _inFlight;
    private readonly IDeployEngine _engine;
    private readonly IInterruptedDeployRecovery _recovery;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RetryLoop _retry;
    private readonly AgentIdentity _identity;
    private JobRun? _current;
    private bool _online;

    public AgentLoop(
        AgentSettings settings, IControllerClient client, IAgentStateStore state, IInFlightStore inFlight,
        IDeployEngine engine, IInterruptedDeployRecovery recovery, TimeProvider time, ILogger<AgentLoop> logger,
        Func<double>? random = null)
    {
        _settings = settings;
        _client = client;
        _inFlight = inFlight;
        _engine = engine;
        _recovery = recovery;
        _time = time;
        _logger = logger;
        _retry = new RetryLoop(time, logger, random);
        _identity = new AgentIdentity(client, state, settings, _retry, logger);
    }

    /// <summary>Runs until <paramref name="stoppingToken"/> fires and a running job is reported (or the drain time is up).</summary>
    /// <exception cref="AgentFatalException">The controller refused this agent for good (enroll token, host name).</exception>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        using var hardStop = new CancellationTokenSource();
        ITimer? drainTimer = null;
        using var onStop = stoppingToken.Register(() =>
        {
            _current?.RequestCancel(CancelReason.Shutdown);
            drainTimer = _time.CreateTimer(_ => hardStop.Cancel(), null, _settings.DrainTimeout, Timeout.InfiniteTimeSpan);
        });
        try
        {
            var interrupted = await RestoreInterruptedAsync(stoppingToken);
            await _identity.EnsureAsync(stoppingToken);
            if (interrupted is not null)
            {
                await ReportInterruptedAsync(interrupted.Value.Job, interrupted.Value.Recovery, stoppingToken);
            }
            await LoopAsync(stoppingToken, hardStop.Token);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
        catch (AgentFatalException)
        {
            // Refused for good (revoked) with a deploy running: stop it and put the previous container back
            // before the process exits (the finally waits for that).
            _current?.RequestCancel(CancelReason.Shutdown);
            throw;
        }
        finally
        {
            if (_current is { } run)
            {
                await run.Completion;
            }
            drainTimer?.Dispose();
        }
        _logger.LogInformation("Agent stopped");
    }

    private async Task LoopAsync(CancellationToken stoppingToken, CancellationToken hardStop)
    {
        while (true)
        {
            if (_current is null)
            {
                if (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                var idle = await HeartbeatAsync(null, _settings.IdleWaitSeconds, stoppingToken);
                if (idle.Job is { } job)
                {
                    _current = StartJob(job, stoppingToken, hardStop);
                }
                continue;
            }

            var run = _current;
            if (run.Completion.IsCompleted)
            {
                // Reported (or abandoned): go idle at once.
                await run.Completion;
                _current = null;
                continue;
            }
            var sentAt = _time.GetTimestamp();
            // Busy heartbeats do not long-poll, and one in flight is never abandoned: the controller may go
            // on holding an abandoned long poll, and when it wakes it speaks for this agent with a job id
            // that is stale by then, which fails the next job as agent_restarted.
            var beat = await HeartbeatAsync(run.JobId, 0, hardStop);
            if (beat.Cancel.Contains(run.JobId))
            {
                run.RequestCancel(CancelReason.User);
            }
            var untilNext = run.RenewEvery - _time.GetElapsedTime(sentAt);
            if (untilNext > TimeSpan.Zero)
            {
                await Task.WhenAny(Task.Delay(untilNext, _time, hardStop), run.Completion);
                hardStop.ThrowIfCancellationRequested();
            }
        }
    }

    private JobRun StartJob(AssignedJob job, CancellationToken stoppingToken, CancellationToken hardStop)
    {
        var run = new JobRun(job, new JobRunContext(
            _client, () => _identity.Current, _engine, _inFlight, _time, _retry, _logger, _settings.Registry));
        run.Start(hardStop);
        if (stoppingToken.IsCancellationRequested)
        {
            // Handed out in the instant the stop arrived: it is cancelled like any running deploy.
            run.RequestCancel(CancelReason.Shutdown);
        }
        return run;
    }

    /// <summary>
    /// A heartbeat, repeated through outages. 401 registers again; other refusals are logged and retried
    /// after the longest backoff (they mean a misconfiguration, and a heartbeat must not stop for good).
    /// </summary>
    private async Task<HeartbeatResponse> HeartbeatAsync(string? runningJobId, int waitSeconds, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                var response = await _retry.RunAsync("heartbeat",
                    ct => _client.HeartbeatAsync(_identity.Current, runningJobId, waitSeconds, ct), cancellationToken);
                if (!_online)
                {
                    _online = true;
                    _logger.LogInformation("Online: agent {AgentId} long-polling {Url} for host {Hostname}",
                        _identity.Current.AgentId, _client.BaseAddress, _settings.Hostname);
                }
                return response;
            }
            catch (ControllerException ex) when (ex.Fault == ControllerFault.Revoked)
            {
                throw Revoked(ex);
            }
            catch (ControllerException ex) when (ex.Fault == ControllerFault.Unauthorized)
            {
                await _identity.RenewAsync(cancellationToken);
            }
            catch (ControllerException ex)
            {
                _logger.LogError("The heartbeat was refused: {Error}; trying again in {Seconds:0}s", ex.Message, Backoff.Max.TotalSeconds);
                await Task.Delay(Backoff.Max, _time, cancellationToken);
            }
        }
    }

    /// <summary>
    /// An operator revoked this agent (DELETE /v1/agents/{id}): it stops and stays stopped. Registering again
    /// with the enroll token would undo the revocation, so that takes a person: delete the state file.
    /// </summary>
    private AgentFatalException Revoked(ControllerException ex) => new(
        $"Agent {_identity.Current.AgentId} was revoked by an operator ({ex.Message}). It will not register again by itself: " +
        $"to bring host {_settings.Hostname} back as a new agent, delete {Path.Combine(_settings.StateDirectory, FileAgentStateStore.FileName)} and start the agent again.",
        ex,
        AgentFatalException.RevokedExitCode);

    /// <summary>Puts the host back after a deploy that a crash interrupted. Needs only Docker, so it runs before registering.</summary>
    private async Task<(InFlightJob Job, RecoveryResult Recovery)?> RestoreInterruptedAsync(CancellationToken cancellationToken)
    {
        InFlightJob? marker;
        try
        {
            marker = _inFlight.Load();
        }
        catch (InvalidDataException ex)
        {
            _logger.LogWarning("The in-flight marker cannot be read ({Error}); removing it", ex.Message);
            _inFlight.Clear();
            return null;
        }
        if (marker is null)
        {
            return null;
        }
        _logger.LogWarning("Job {JobId} attempt {Attempt} was being deployed when the agent stopped ({StartedAt:u}); restoring {Container}",
            marker.JobId, marker.Attempt, marker.StartedAt, marker.Container);
        var recovery = await _recovery.RecoverAsync(marker.JobId, marker.Container, new LoggerDeployLog(_logger), cancellationToken, marker.Proxy);
        return (marker, recovery);
    }

    /// <summary>
    /// Reports the interrupted job failed before the first heartbeat, which would otherwise make the controller fail
    /// it as <c>agent_restarted</c>. A refusal (the lease already moved it on) is logged; either way the marker goes.
    /// </summary>
    private async Task ReportInterruptedAsync(InFlightJob marker, RecoveryResult recovery, CancellationToken cancellationToken)
    {
        var report = new StatusReport(JobStatuses.Failed, marker.Attempt, Interrupted + recovery.Suffix);
        try
        {
            await _retry.RunAsync($"reporting interrupted job {marker.JobId}",
                ct => _client.ReportStatusAsync(_identity.Current, marker.JobId, report, ct), cancellationToken);
            _logger.LogInformation("Job {JobId} attempt {Attempt} reported failed: {Error}", marker.JobId, marker.Attempt, report.Error);
        }
        catch (ControllerException ex)
        {
            _logger.LogWarning("The controller did not take the report on interrupted job {JobId} ({Error}); it had already ended it", marker.JobId, ex.Message);
        }
        _inFlight.Clear();
    }

    private static async Task Ignore(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception)
        {
            // a heartbeat cut short because the job ended; its outcome no longer matters
        }
    }
}
