using DeployBot.Agent.Protocol;
using DeployBot.Agent.Tests.Fakes;
using Microsoft.Extensions.Logging;

namespace DeployBot.Agent.Tests.Protocol;

public sealed class RetryLoopTests
{
    private readonly RecordingTimeProvider _time = new();
    private readonly RecordingLogger<RetryLoopTests> _logger = new();

    private RetryLoop Loop() => new(_time, _logger, () => 0);

    [Fact]
    public async Task Retriable_faults_are_retried_after_growing_pauses_and_only_the_first_is_logged()
    {
        // Arrange
        var attempts = new List<DateTimeOffset>();
        Task<int> Call(CancellationToken _)
        {
            attempts.Add(_time.GetUtcNow());
            return attempts.Count <= 4
                ? Task.FromException<int>(new ControllerException(ControllerFault.Busy, 503, "answered 503"))
                : Task.FromResult(42);
        }

        // Act
        var running = Task.Run(() => Loop().RunAsync("heartbeat", Call, CancellationToken.None));
        while (!running.IsCompleted)
        {
            await Task.Delay(1);
            _time.Advance(TimeSpan.FromMilliseconds(250));
        }

        // Assert
        Assert.Equal(42, await running);
        // Pauses of 1, 2, 4 and 8 s (random = 0 takes the floor of each range), and no attempt came before its
        // pause was over. (The times themselves are not compared: this thread advances the clock while the loop
        // runs on another, so an attempt can be seen a step or two late.)
        TimeSpan[] pauses = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8)];
        Assert.Equal(pauses, _time.DueTimes.ToArray());
        Assert.Equal(5, attempts.Count);
        Assert.All(Enumerable.Range(0, 4), i => Assert.True(attempts[i + 1] - attempts[i] >= pauses[i], $"attempt {i + 2} came early"));
        Assert.Equal(1, _logger.Count(LogLevel.Warning, "heartbeat failed: answered 503"));
        Assert.Equal(3, _logger.Count(LogLevel.Debug, "heartbeat failed again"));
        Assert.Equal(1, _logger.Count(LogLevel.Information, "the controller answers again (after 4 failed attempts)"));
    }

    [Theory]
    [InlineData(ControllerFault.Stale)]
    [InlineData(ControllerFault.Forbidden)]
    [InlineData(ControllerFault.Rejected)]
    [InlineData(ControllerFault.Unauthorized)]
    public async Task Faults_that_retrying_cannot_fix_are_thrown_at_once(ControllerFault fault)
    {
        // Arrange
        var calls = 0;

        // Act
        var ex = await Assert.ThrowsAsync<ControllerException>(() => Loop().RunAsync("report", _ =>
        {
            calls++;
            throw new ControllerException(fault, null, "no");
        }, CancellationToken.None));

        // Assert
        Assert.Equal((fault, 1), (ex.Fault, calls));
    }

    [Fact]
    public async Task Cancellation_during_a_pause_ends_the_loop()
    {
        // Arrange
        using var stop = new CancellationTokenSource();
        var running = Loop().RunAsync("heartbeat", _ => throw new ControllerException(ControllerFault.Unreachable, null, "refused"), stop.Token);

        // Act
        stop.Cancel();

        // Assert
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
    }
}
