using DeployBot.Agent.Deploy;

namespace DeployBot.Agent.Tests.Deploy;

public sealed class DeployResultTests
{
    [Fact]
    public void The_summary_names_the_step_the_reason_and_the_rollback()
    {
        Assert.Null(new DeployResult(DeployOutcome.Succeeded, DeployStep.RemovePrevious, null, "id").Summary);
        Assert.Equal("failed at pull: cannot pull x: manifest unknown",
            new DeployResult(DeployOutcome.Failed, DeployStep.Pull, "cannot pull x: manifest unknown", null).Summary);
        Assert.Equal("failed at health: timeout; previous container restored",
            new DeployResult(DeployOutcome.Failed, DeployStep.Health, "timeout", null, RolledBack: true).Summary);
        Assert.Equal("cancelled at stop-previous: the job was cancelled; rollback failed: gone",
            new DeployResult(DeployOutcome.Cancelled, DeployStep.StopPrevious, "the job was cancelled", null, RollbackError: "gone").Summary);
    }
}
