using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace DeployBot.Agent.Tests;

public sealed class DeployEngineServicesTests
{
    [Fact]
    public void The_host_resolves_an_engine_talking_to_DOCKER_HOST()
    {
        // Arrange
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["DOCKER_HOST"] = "unix:///run/custom/docker.sock" })
            .Build();

        // Act
        using var services = new ServiceCollection().AddDeployEngine(configuration).BuildServiceProvider();

        // Assert
        Assert.IsType<DeployEngine>(services.GetRequiredService<IDeployEngine>());
        Assert.Equal("/run/custom/docker.sock", services.GetRequiredService<IDockerClient>().Endpoint.SocketPath);
    }
}
