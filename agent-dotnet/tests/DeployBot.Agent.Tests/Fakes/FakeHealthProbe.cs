using DeployBot.Agent.Deploy;

namespace DeployBot.Agent.Tests.Fakes;

/// <summary>Answers health attempts from a function of the attempt number (1-based).</summary>
internal sealed class FakeHealthProbe(Func<int, ProbeResult> answer) : IHealthProbe
{
    public static FakeHealthProbe Healthy() => new(_ => new ProbeResult(true, "HTTP 200"));

    public static FakeHealthProbe Failing(string detail = "HTTP 404") => new(_ => new ProbeResult(false, detail));

    public int Attempts { get; private set; }

    /// <summary>The time each attempt was allowed, in order.</summary>
    public List<TimeSpan> Timeouts { get; } = [];

    public Task<ProbeResult> ProbeAsync(string url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Attempts++;
        Timeouts.Add(timeout);
        return Task.FromResult(answer(Attempts));
    }
}
