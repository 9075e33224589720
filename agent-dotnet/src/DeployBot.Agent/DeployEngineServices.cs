using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;
using DeployBot.Agent.Proxy;

namespace DeployBot.Agent;

public static class DeployEngineServices
{
    /// <summary>
    /// Registers <see cref="IDeployEngine"/> and what it needs. The engine endpoint comes from the
    /// DOCKER_HOST setting (environment or configuration): <c>unix:///path</c> or <c>tcp://host:port</c>,
    /// the default socket when unset.
    /// </summary>
    public static IServiceCollection AddDeployEngine(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(DockerEndpoint.Parse(configuration["DOCKER_HOST"]));
        services.AddSingleton<IDockerClient>(sp => new DockerClient(sp.GetRequiredService<DockerEndpoint>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IHealthProbe>(sp => new HttpHealthProbe(sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(new DeployEngineOptions());
        services.AddSingleton<IProxyAdmin, CaddyAdmin>();
        services.AddSingleton<IDeployEngine, DeployEngine>();
        return services;
    }
}
