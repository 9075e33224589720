namespace DeployBot.Agent.Agent;

/// <summary>Hosts <see cref="AgentLoop"/> as the service's one background worker. A fatal refusal from the
/// controller, or an unexpected error, stops the process with exit code 1 (systemd restarts it), or 78 when
/// the agent was revoked (systemd leaves it stopped).</summary>
public sealed class AgentWorker(AgentLoop loop, IHostApplicationLifetime lifetime, ILogger<AgentWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await loop.RunAsync(stoppingToken);
        }
        catch (AgentFatalException ex)
        {
            logger.LogCritical("{Message}", ex.Message);
            Environment.ExitCode = ex.ExitCode;
        }
        catch (Exception ex)
        {
            logger.LogCritical(ex, "The agent stopped on an unexpected error");
            Environment.ExitCode = 1;
        }
        lifetime.StopApplication();
    }
}
