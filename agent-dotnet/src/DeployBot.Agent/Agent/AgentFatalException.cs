namespace DeployBot.Agent.Agent;

/// <summary>A fault the agent cannot get past by retrying (a wrong enroll token, a host name the controller
/// refuses, a revocation): the process exits with <see cref="ExitCode"/> and this message.</summary>
public sealed class AgentFatalException(string message, Exception? inner = null, int exitCode = 1) : Exception(message, inner)
{
    /// <summary>Exit code of a revoked agent. deploybot-agent.service does not restart on it
    /// (RestartPreventExitStatus): a restart would only be refused again.</summary>
    public const int RevokedExitCode = 78;

    public int ExitCode { get; } = exitCode;
}
