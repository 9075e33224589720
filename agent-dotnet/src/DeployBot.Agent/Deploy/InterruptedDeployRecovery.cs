using DeployBot.Agent.Docker;
using DeployBot.Agent.Proxy;

namespace DeployBot.Agent.Deploy;

/// <summary>Puts a host back as it was before a deploy that the agent did not live to finish.</summary>
public interface IInterruptedDeployRecovery
{
    /// <summary>
    /// Undoes what is left of job <paramref name="jobId"/>'s deploy of <paramref name="container"/>: removes a
    /// container this job created and brings back the one it parked as <c>&lt;container&gt;-previous-&lt;job&gt;</c>.
    /// Never throws for a Docker failure; the result says what was done.
    /// </summary>
    /// <param name="proxy">Set when the job was a cutover behind the proxy: then the repair of <see cref="CutoverRepair"/> runs instead.</param>
    Task<RecoveryResult> RecoverAsync(string jobId, string container, IDeployLog log, CancellationToken cancellationToken, ProxySpec? proxy = null);
}

/// <param name="Restored">The parked previous container is back under its name and started.</param>
/// <param name="Problem">Why the host could not be put back, if it could not.</param>
/// <param name="Cutover">The job was a cutover, repaired to one release behind the proxy.</param>
public sealed record RecoveryResult(bool Restored, string? Problem, bool Cutover = false)
{
    /// <summary>What to append to the job's error: "; previous container restored" and the like.</summary>
    public string Suffix => Problem is not null ? $"; recovery failed: {Problem}"
        : Cutover ? "; one release serves behind the proxy"
        : Restored ? "; previous container restored" : "";
}

/// <summary>
/// Crash recovery from the engine's state alone: the names and the <c>deploybot.job</c> label that
/// <see cref="DeployEngine"/> leaves tell what the interrupted deploy had done. Assumes the parked
/// container was running before the deploy (it was the live release), so it is started again.
/// </summary>
public sealed class InterruptedDeployRecovery(IDockerClient docker, TimeProvider time, IProxyAdmin? proxyAdmin = null) : IInterruptedDeployRecovery
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    public async Task<RecoveryResult> RecoverAsync(string jobId, string container, IDeployLog log, CancellationToken cancellationToken, ProxySpec? proxy = null)
    {
        using var timeout = new CancellationTokenSource(Bound, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked.Token;
        var parkedName = DeployEngine.PreviousName(container, jobId);
        try
        {
            if (proxy is not null)
            {
                var changed = await new CutoverRepair(docker, proxyAdmin ?? new CaddyAdmin(), log).RepairAsync(container, proxy, token);
                log.Write(LogStreams.Stdout, changed ? $"cutover of job {jobId} repaired" : $"cutover of job {jobId}: nothing left to repair");
                return new RecoveryResult(false, null, Cutover: true);
            }
            var holder = await docker.InspectContainerAsync(container, token);
            var parked = await docker.InspectContainerAsync(parkedName, token);
            if (holder is not null && holder.Labels.GetValueOrDefault(ContainerCreateBody.JobLabel) == jobId)
            {
                await docker.RemoveContainerAsync(holder.Id, token);
                log.Write(LogStreams.Stdout, $"removed {container} ({DeployEngine.Short(holder.Id)}), created by the interrupted job {jobId}");
                holder = null;
            }
            if (parked is null)
            {
                log.Write(LogStreams.Stdout, $"no parked container {parkedName}: nothing to restore");
                return new RecoveryResult(false, null);
            }
            if (holder is not null)
            {
                // Someone else's container holds the name now: leave both alone rather than guess.
                var problem = $"{container} is held by {DeployEngine.Short(holder.Id)} (not created by job {jobId}); the previous release stays parked as {parkedName}";
                log.Write(LogStreams.Stderr, problem);
                return new RecoveryResult(false, problem);
            }
            await docker.RenameContainerAsync(parked.Id, container, token);
            if (!parked.Running)
            {
                await docker.StartContainerAsync(parked.Id, token);
            }
            log.Write(LogStreams.Stdout, $"restored {parkedName} as {container} ({DeployEngine.Short(parked.Id)}, image {parked.Image})");
            return new RecoveryResult(true, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            // The boundary of recovery: a Docker failure is reported on the job, never thrown past it.
            var problem = ex is OperationCanceledException ? $"did not finish within {Bound.TotalSeconds:0}s" : ex.Message;
            log.Write(LogStreams.Stderr, $"recovery of job {jobId} failed: {problem}");
            return new RecoveryResult(false, problem);
        }
    }
}
