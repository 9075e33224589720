namespace DeployBot.Agent.Deploy;

/// <summary>
/// Polls a health URL until it answers 2xx, the timeout passes, or the container stops on its own.
/// Waits through <see cref="TimeProvider"/>, so tests drive it with a fake clock.
/// </summary>
internal sealed class HealthWaiter(IHealthProbe probe, TimeProvider time, DeployEngineOptions options)
{
    /// <summary>Null when healthy; otherwise why not.</summary>
    /// <param name="exited">Asked after each failed attempt: a reason when the container is no longer running.</param>
    public async Task<string?> WaitAsync(
        HealthSpec health, Func<CancellationToken, Task<string?>> exited, Action<string> say, CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromSeconds(health.Timeout);
        var started = time.GetTimestamp();
        var attempts = 0;
        string? lastDetail = null;
        say($"waiting up to {health.Timeout:0.#}s for {health.Url} to answer 2xx");
        while (true)
        {
            var attemptTimeout = AttemptTimeout(timeout - time.GetElapsedTime(started));
            var result = await probe.ProbeAsync(health.Url, attemptTimeout, cancellationToken);
            attempts++;
            if (result.Healthy)
            {
                say($"healthy: {health.Url} answered {result.Detail} after {time.GetElapsedTime(started).TotalSeconds:0.#}s");
                return null;
            }

            // Only the first of a run of identical answers is logged: a refused connection every second
            // for thirty seconds is one fact, not thirty.
            if (result.Detail != lastDetail)
            {
                say($"not healthy yet: {result.Detail}");
                lastDetail = result.Detail;
            }

            if (await exited(cancellationToken) is { } reason)
            {
                return $"{reason}; last health answer: {result.Detail}";
            }

            var elapsed = time.GetElapsedTime(started);
            if (elapsed >= timeout)
            {
                return $"{health.Url} did not answer 2xx within {health.Timeout:0.#}s ({attempts} attempts, last: {result.Detail})";
            }
            var pause = timeout - elapsed < options.HealthInterval ? timeout - elapsed : options.HealthInterval;
            await Task.Delay(pause, time, cancellationToken);
        }
    }

    /// <summary>What is left of the health timeout, but no more than one attempt's limit and no less
    /// than its floor: the last attempt may end up to the floor past the deadline.</summary>
    private TimeSpan AttemptTimeout(TimeSpan remaining)
    {
        var floor = options.HealthAttemptFloor < options.HealthAttemptTimeout ? options.HealthAttemptFloor : options.HealthAttemptTimeout;
        return TimeSpan.FromTicks(Math.Clamp(remaining.Ticks, floor.Ticks, options.HealthAttemptTimeout.Ticks));
    }
}
