using DeployBot.Agent.Protocol;
using DeployBot.Agent.Tests.Fakes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace DeployBot.Agent.Tests.Protocol;

public sealed class RetryLoopTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly RecordingLogger<RetryLoopTests> _logger = new();

    private RetryLoop Loop() => new(_time, _logger, () => 0);

    [Fact]
    public async Task Retriable_faults_are_retried_after_growing_pauses_and_only_the_first_is_logged()
    {
        // Arrange
        var attempts = new List<DateTimeOffset>();
        var start = _time.GetUtcNow();
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
        // Pauses of 1, 2, 4 and 8 s (random = 0 takes the floor of each range).
        Assert.Equal([0, 1, 3, 7, 15], attempts.Select(a => Math.Round((a - start).TotalSeconds)).ToArray());
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
