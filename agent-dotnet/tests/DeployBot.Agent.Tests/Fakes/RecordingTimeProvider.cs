using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace DeployBot.Agent.Tests.Fakes;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that also keeps the due time of every timer asked of it, so a test can
/// check the pauses code asked for without racing the thread that advances the clock.
/// </summary>
internal sealed class RecordingTimeProvider : FakeTimeProvider
{
    public ConcurrentQueue<TimeSpan> DueTimes { get; } = new();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        DueTimes.Enqueue(dueTime);
        return base.CreateTimer(callback, state, dueTime, period);
    }
}
