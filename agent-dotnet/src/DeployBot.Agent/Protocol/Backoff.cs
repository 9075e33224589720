namespace DeployBot.Agent.Protocol;

/// <summary>
/// Random, growing pauses between retries of a controller call (protocol §7: 1–30 s). Random so that the
/// agents of many hosts do not come back in step after an outage; growing so a long outage costs little.
/// </summary>
public static class Backoff
{
    public static readonly TimeSpan Min = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Max = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The pause after the <paramref name="failures"/>-th failure in a row: uniform in [ceiling/2, ceiling]
    /// where the ceiling doubles from 2 s up to 30 s (and never below 1 s).
    /// </summary>
    /// <param name="unit">A random number in [0, 1).</param>
    public static TimeSpan Delay(int failures, double unit)
    {
        var ceiling = Math.Min(Max.TotalSeconds, Math.Pow(2, Math.Clamp(failures, 1, 16)));
        var floor = Math.Max(Min.TotalSeconds, ceiling / 2);
        return TimeSpan.FromSeconds(floor + (ceiling - floor) * Math.Clamp(unit, 0, 1));
    }
}
