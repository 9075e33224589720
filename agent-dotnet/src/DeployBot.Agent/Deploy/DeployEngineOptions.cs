namespace DeployBot.Agent.Deploy;

/// <summary>Tunables of <see cref="DeployEngine"/>; the defaults suit a production host.</summary>
public sealed record DeployEngineOptions
{
    /// <summary>How long the previous container gets to stop on SIGTERM before SIGKILL.</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Pause between health attempts. Fixed, not backing off: the target is our own fresh
    /// container, and every second of delay is a second of downtime.</summary>
    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait for one health attempt.</summary>
    public TimeSpan HealthAttemptTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Shortest wait for one health attempt, even when the health timeout is nearly spent:
    /// an attempt cut to a few milliseconds can only say "no answer", which would hide the real
    /// answer (a 404, a refused connection) from the failure message.</summary>
    public TimeSpan HealthAttemptFloor { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Without a health URL: how long the new container must stay up to count as started.</summary>
    public TimeSpan StartupGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Upper bound on putting the previous container back. Rollback ignores the job's
    /// cancellation (a cancelled deploy must still restore the old release) but not this.</summary>
    public TimeSpan RollbackTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>Lines of the new container's output shown when it fails its health check.</summary>
    public int FailureLogLines { get; init; } = 20;
}
