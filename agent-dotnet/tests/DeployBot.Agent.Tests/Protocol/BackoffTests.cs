using DeployBot.Agent.Protocol;

namespace DeployBot.Agent.Tests.Protocol;

public sealed class BackoffTests
{
    [Theory]
    [InlineData(1, 1, 2)]
    [InlineData(2, 2, 4)]
    [InlineData(3, 4, 8)]
    [InlineData(4, 8, 16)]
    [InlineData(5, 15, 30)]
    [InlineData(40, 15, 30)]
    public void The_pause_grows_with_each_failure_and_stays_between_1_and_30_seconds(int failures, double floor, double ceiling)
    {
        // Arrange, Act
        var lowest = Backoff.Delay(failures, 0);
        var highest = Backoff.Delay(failures, 0.999999);

        // Assert
        Assert.Equal(floor, lowest.TotalSeconds, 3);
        Assert.Equal(ceiling, highest.TotalSeconds, 3);
    }
}
