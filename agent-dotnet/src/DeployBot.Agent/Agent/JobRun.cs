using DeployBot.Agent.Deploy;
using DeployBot.Agent.Protocol;
using DeployBot.Agent.State;

namespace DeployBot.Agent.Agent;

/// <summary>Why a running deploy was told to stop.</summary>
public enum CancelReason
{
    None,

    /// <summary>A heartbeat's <c>cancel</c> list named the job.</summary>
    User,

    /// <summary>The agent received SIGTERM.</summary>
    Shutdown,
}

/// <summary>Everything a <see cref="JobRun"/> talks to.</summary>
public sealed record JobRunContext(
    IControllerClient Client,
    Func<AgentCredentials> Credentials,
    IDeployEngine Engine,
    IInFlightStore InFlight,
    TimeProvider Time,
    RetryLoop Retry,
    ILogger Logger,
    RegistryCredentials? Registry);

/// <summary>
/// One attempt of one job, from hand-out to final report: writes the in-flight marker, reports
/// <c>running</c>, deploys while its log ships, flushes the log, reports <c>succeeded</c> or <c>failed</c>
/// (with <c>attempt</c>), and removes the marker. A 403/404/409 on any report or log batch means the
/// attempt is no longer this agent's: the deploy is cancelled (and so rolled back) and nothing more is sent.
/// <see cref="Completion"/> never faults.
/// </summary>
public sealed class JobRun
{
    private readonly AssignedJob _job;
    private readonly JobRunContext _context;
    private readonly CancellationTokenSource _cancel = new();
    private CancelReason _cancelReason;

    public JobRun(AssignedJob job, JobRunContext context)
    {
        _job = job;
        _context = context;
    }

    public string JobId => _job.Id;

    public int Attempt => _job.Attempt;

    /// <summary>Longest gap between heartbeats while a job runs, whatever its lease: a cancel is heard within it.</summary>
    public static readonly TimeSpan BusyHeartbeatMax = TimeSpan.FromSeconds(5);

    /// <summary>How often heartbeats name the job: a third of its lease (protocol §2), at least 1 s, at most
    /// <see cref="BusyHeartbeatMax"/>.</summary>
    public TimeSpan RenewEvery => TimeSpan.FromSeconds(Math.Clamp(_job.LeaseS / 3, 1, BusyHeartbeatMax.TotalSeconds));

    public Task Completion { get; private set; } = Task.CompletedTask;

    public CancelReason CancelReason => _cancelReason;

    /// <summary>Starts the run; <paramref name="hardStop"/> abandons it (the marker stays for the next start).</summary>
    public JobRun Start(CancellationToken hardStop)
    {
        Completion = Task.Run(() => RunGuardedAsync(hardStop));
        return this;
    }

    /// <summary>Stops the deploy at its current step; it rolls back and the job is reported <c>failed</c>.</summary>
    public void RequestCancel(CancelReason reason)
    {
        if (_cancelReason == CancelReason.None)
        {
            _cancelReason = reason;
            _context.Logger.LogWarning("Job {JobId}: {Reason}; cancelling the deploy", JobId,
                reason == CancelReason.User ? "cancelled by a user" : "the agent is stopping");
            _cancel.Cancel();
        }
    }

    private async Task RunGuardedAsync(CancellationToken hardStop)
    {
        try
        {
            await RunAsync(hardStop);
        }
        catch (OperationCanceledException) when (hardStop.IsCancellationRequested)
        {
            _context.Logger.LogWarning("Job {JobId} attempt {Attempt}: stopped before its final report; it will be reported at the next start", JobId, Attempt);
        }
        catch (Exception ex)
        {
            // The job boundary: a bug here must not take the agent down; the marker makes the next start report it.
            _context.Logger.LogError(ex, "Job {JobId} attempt {Attempt}: unexpected error", JobId, Attempt);
        }
    }

    private async Task RunAsync(CancellationToken hardStop)
    {
        var (client, logger) = (_context.Client, _context.Logger);
        _context.InFlight.Save(new InFlightJob(JobId, Attempt, _job.Deploy.Container, _context.Credentials().AgentId, _context.Time.GetUtcNow(), _job.Deploy.Proxy));
        logger.LogInformation("Job {JobId} attempt {Attempt}: deploying {App} {Image} as {Container}", JobId, Attempt, _job.App, _job.Deploy.Image, _job.Deploy.Container);

        if (!await ReportAsync(new StatusReport(JobStatuses.Running, Attempt), hardStop))
        {
            _context.InFlight.Clear();
            return;
        }

        var log = new JobLogShipper(client, _context.Credentials, JobId, Attempt, _context.Time, _context.Retry, logger);
        var shipping = log.RunAsync(hardStop);
        DeployResult result;
        using (var deployStop = CancellationTokenSource.CreateLinkedTokenSource(_cancel.Token, log.Lost, hardStop))
        {
            try
            {
                result = await _context.Engine.DeployAsync(_job.ToDeployJob() with { Registry = _context.Registry }, log, deployStop.Token);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                log.Write(LogStreams.Stderr, $"agent error: {ex.Message}");
                result = new DeployResult(DeployOutcome.Failed, DeployStep.Validate, $"agent error: {ex.Message}", null);
            }
        }

        log.Complete();
        await shipping;
        if (log.Lost.IsCancellationRequested)
        {
            logger.LogWarning("Job {JobId} attempt {Attempt} is no longer this agent's ({Reason}); stopped without a report", JobId, Attempt, log.LostReason);
            _context.InFlight.Clear();
            return;
        }

        var report = result.Outcome switch
        {
            DeployOutcome.Succeeded => new StatusReport(JobStatuses.Succeeded, Attempt),
            DeployOutcome.Cancelled => new StatusReport(JobStatuses.Failed, Attempt,
                $"{result.Summary} ({(_cancelReason == CancelReason.Shutdown ? "the agent was stopping" : "cancelled by user")})"),
            _ => new StatusReport(JobStatuses.Failed, Attempt, result.Summary),
        };
        await ReportAsync(report, hardStop);
        logger.LogInformation("Job {JobId} attempt {Attempt}: {Status}{Error}", JobId, Attempt, report.Status, report.Error is null ? "" : $" ({report.Error})");
        _context.InFlight.Clear();
    }

    /// <summary>Sends a status report until it is taken. False when the attempt is no longer ours or the report was refused.</summary>
    private async Task<bool> ReportAsync(StatusReport report, CancellationToken hardStop)
    {
        try
        {
            await _context.Retry.RunAsync($"reporting job {JobId} {report.Status}",
                ct => _context.Client.ReportStatusAsync(_context.Credentials(), JobId, report, ct), hardStop);
            return true;
        }
        catch (ControllerException ex)
        {
            // 409: the lease ran out and the job moved on; 403/404: not ours. None is fixed by asking again.
            _context.Logger.LogWarning("Job {JobId} attempt {Attempt}: the {Status} report was not taken ({Error}); not retried", JobId, Attempt, report.Status, ex.Message);
            _cancel.Cancel();
            return false;
        }
    }
}
