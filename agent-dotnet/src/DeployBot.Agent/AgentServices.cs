using DeployBot.Agent.Agent;
using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;
using DeployBot.Agent.Proxy;
using DeployBot.Agent.Protocol;
using DeployBot.Agent.State;

namespace DeployBot.Agent;

public static class AgentServices
{
    /// <summary>
    /// Registers the agent: the controller client, the state files in <see cref="AgentSettings.StateDirectory"/>,
    /// crash recovery and the <see cref="AgentWorker"/>. Expects <see cref="DeployEngineServices.AddDeployEngine"/>.
    /// </summary>
    public static IServiceCollection AddAgent(this IServiceCollection services, AgentSettings settings)
    {
        services.AddSingleton(settings);
        services.AddSingleton<IControllerClient>(sp => new ControllerClient(
            new HttpClient(new SocketsHttpHandler
            {
                // A new connection now and then follows a controller that moved (DNS) behind its name.
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                ConnectTimeout = TimeSpan.FromSeconds(15),
            })
            {
                Timeout = Timeout.InfiniteTimeSpan,
            },
            settings.ControllerUrl,
            sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IAgentStateStore>(new FileAgentStateStore(settings.StateDirectory));
        services.AddSingleton<IInFlightStore>(new FileInFlightStore(settings.StateDirectory));
        services.AddSingleton<IInterruptedDeployRecovery>(sp =>
            new InterruptedDeployRecovery(sp.GetRequiredService<IDockerClient>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IProxyAdmin>()));
        services.AddSingleton(sp => new AgentLoop(
            settings,
            sp.GetRequiredService<IControllerClient>(),
            sp.GetRequiredService<IAgentStateStore>(),
            sp.GetRequiredService<IInFlightStore>(),
            sp.GetRequiredService<IDeployEngine>(),
            sp.GetRequiredService<IInterruptedDeployRecovery>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<AgentLoop>>()));
        services.AddHostedService<AgentWorker>();
        services.Configure<HostOptions>(options => options.ShutdownTimeout = settings.DrainTimeout + TimeSpan.FromSeconds(10));
        return services;
    }
}
