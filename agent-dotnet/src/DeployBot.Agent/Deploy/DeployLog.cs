using Microsoft.Extensions.Logging;

namespace DeployBot.Agent.Deploy;

/// <summary>
/// Where a deploy's log lines go. The protocol client will implement it by numbering the lines
/// (<c>seq</c>, <c>ts</c>) and shipping them to <c>POST /v1/jobs/{id}/logs</c>.
/// Implementations must not throw and must be safe to call from any thread.
/// </summary>
public interface IDeployLog
{
    /// <param name="stream">One of <see cref="LogStreams"/>.</param>
    void Write(string stream, string text);
}

/// <summary>The <c>stream</c> values the engine writes: progress on stdout, warnings and failures on stderr.</summary>
public static class LogStreams
{
    public const string Stdout = "stdout";
    public const string Stderr = "stderr";
}

/// <summary>An <see cref="IDeployLog"/> that writes to an <see cref="ILogger"/>, for running without a controller.</summary>
public sealed class LoggerDeployLog(ILogger logger) : IDeployLog
{
    public void Write(string stream, string text)
    {
        if (stream == LogStreams.Stderr)
        {
            logger.LogWarning("{Text}", text);
        }
        else
        {
            logger.LogInformation("{Text}", text);
        }
    }
}
