namespace DeployBot.Agent.Deploy;

/// <summary>The steps of a deploy, in order; a failure names the one it happened in.</summary>
public enum DeployStep
{
    Validate,
    Pull,
    Proxy,
    StopPrevious,
    Create,
    Start,
    Health,
    Switch,
    Drain,
    RemovePrevious,
}

public enum DeployOutcome
{
    Succeeded,
    Failed,
    Cancelled,
}

/// <summary>
/// How a deploy ended. <see cref="Step"/> is the step that failed or was cancelled (the last step on success).
/// <see cref="RolledBack"/> says the previous container is back under its name (running if it ran before);
/// <see cref="RollbackError"/> says why it could not be put back, if it could not. <see cref="KeptServing"/>: a
/// cutover failed before the switch, so the previous release never stopped serving.
/// </summary>
public sealed record DeployResult(
    DeployOutcome Outcome,
    DeployStep Step,
    string? Error,
    string? ContainerId,
    bool RolledBack = false,
    string? RollbackError = null,
    bool KeptServing = false)
{
    /// <summary>The step's name as it appears in messages: <c>pull</c>, <c>stop-previous</c>, <c>health</c> …</summary>
    public static string StepName(DeployStep step) => step switch
    {
        DeployStep.Validate => "validate",
        DeployStep.Pull => "pull",
        DeployStep.Proxy => "proxy",
        DeployStep.StopPrevious => "stop-previous",
        // Create and start are one step in the shared vocabulary (docs/deploy-steps.md), as `docker run` is one command.
        DeployStep.Create => "start",
        DeployStep.Start => "start",
        DeployStep.Health => "health",
        DeployStep.Switch => "switch",
        DeployStep.Drain => "drain",
        DeployStep.RemovePrevious => "remove-previous",
        _ => step.ToString().ToLowerInvariant(),
    };

    /// <summary>One line for the job's <c>error</c> field; null on success.</summary>
    public string? Summary => Outcome switch
    {
        DeployOutcome.Succeeded => null,
        _ => $"{(Outcome == DeployOutcome.Cancelled ? "cancelled" : "failed")} at {StepName(Step)}: {Error}"
             + (RollbackError is not null ? $"; rollback failed: {RollbackError}"
                : KeptServing ? "; the previous release kept serving"
                : RolledBack ? "; previous container restored" : ""),
    };
}
