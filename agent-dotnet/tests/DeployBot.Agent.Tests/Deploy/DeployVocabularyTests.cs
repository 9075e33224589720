using DeployBot.Agent.Deploy;

namespace DeployBot.Agent.Tests.Deploy;

/// <summary>Runs test/fixtures/deploy-scenarios.json, the table the relay's vocabulary.test.ts runs too (docs/deploy-steps.md).</summary>
public sealed class DeployVocabularyTests
{
    public static TheoryData<string> Scenarios()
    {
        var data = new TheoryData<string>();
        foreach (var s in SharedFixtures.Load("deploy-scenarios.json")["scenarios"]!.AsArray())
        {
            data.Add(s!["name"]!.GetValue<string>());
        }
        return data;
    }

    [Fact]
    public void Names_the_steps_as_the_relay_does_in_order()
    {
        // Arrange
        var expected = SharedFixtures.Load("deploy-scenarios.json")["steps"]!.AsArray().Select(s => s!.GetValue<string>());

        // Act
        var names = Enum.GetValues<DeployStep>().Select(DeployResult.StepName).Distinct();

        // Assert
        Assert.Equal(expected, names);
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Words_the_job_error_as_the_shared_table_says(string name)
    {
        // Arrange
        var scenario = SharedFixtures.Load("deploy-scenarios.json")["scenarios"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == name)!;
        var end = scenario["end"]!;
        var outcome = end["outcome"]!.GetValue<string>() switch
        {
            "succeeded" => DeployOutcome.Succeeded,
            "cancelled" => DeployOutcome.Cancelled,
            _ => DeployOutcome.Failed,
        };
        var step = Enum.GetValues<DeployStep>().First(s => DeployResult.StepName(s) == end["step"]!.GetValue<string>());
        // The agent words a cancel's reason itself.
        var error = outcome == DeployOutcome.Cancelled ? "the job was cancelled" : end["error"]?.GetValue<string>();

        // Act
        var result = new DeployResult(outcome, step, error, null,
            RolledBack: end["restored"]?.GetValue<bool>() ?? false,
            RollbackError: end["rollback_error"]?.GetValue<string>(),
            KeptServing: end["kept_serving"]?.GetValue<bool>() ?? false);

        // Assert
        Assert.Equal(scenario["summary"]?.GetValue<string>(), result.Summary);
    }
}
