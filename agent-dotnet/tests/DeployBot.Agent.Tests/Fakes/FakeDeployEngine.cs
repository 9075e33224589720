using DeployBot.Agent.Deploy;

namespace DeployBot.Agent.Tests.Fakes;

/// <summary>An <see cref="IDeployEngine"/> whose deploy is a script: by default it writes a few lines and succeeds.
/// A cancelled deploy returns <see cref="DeployOutcome.Cancelled"/> with the previous container restored, as the real one does.</summary>
internal sealed class FakeDeployEngine : IDeployEngine
{
    public List<DeployJob> Jobs { get; } = [];

    /// <summary>The token of the last deploy, to see whether it was cancelled.</summary>
    public CancellationToken LastToken { get; private set; }

    /// <summary>Runs as the deploy; cancellation (an <see cref="OperationCanceledException"/>) becomes a cancelled result.</summary>
    public Func<DeployJob, IDeployLog, CancellationToken, Task<DeployResult>> Script { get; set; } = (job, log, _) =>
    {
        log.Write(LogStreams.Stdout, $"deploying {job.Deploy.Image}");
        log.Write(LogStreams.Stdout, "healthy");
        return Task.FromResult(new DeployResult(DeployOutcome.Succeeded, DeployStep.RemovePrevious, null, "c-new"));
    };

    public async Task<DeployResult> DeployAsync(DeployJob job, IDeployLog log, CancellationToken cancellationToken)
    {
        Jobs.Add(job);
        LastToken = cancellationToken;
        try
        {
            return await Script(job, log, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            log.Write(LogStreams.Stderr, "cancelled during health");
            return new DeployResult(DeployOutcome.Cancelled, DeployStep.Health, "the job was cancelled", null, RolledBack: true);
        }
    }
}
