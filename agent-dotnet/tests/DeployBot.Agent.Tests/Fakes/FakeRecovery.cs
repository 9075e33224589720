using DeployBot.Agent.Deploy;

namespace DeployBot.Agent.Tests.Fakes;

/// <summary>Records what it was asked to recover and answers with <see cref="Result"/>.</summary>
internal sealed class FakeRecovery : IInterruptedDeployRecovery
{
    public List<(string JobId, string Container)> Calls { get; } = [];

    public RecoveryResult Result { get; set; } = new(true, null);

    public Task<RecoveryResult> RecoverAsync(string jobId, string container, IDeployLog log, CancellationToken cancellationToken, ProxySpec? proxy = null)
    {
        Calls.Add((jobId, container));
        return Task.FromResult(Result);
    }
}
