using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;

// The agent's host. For now it only wires the deploy engine; the controller protocol client
// (register, heartbeat long poll, status and log shipping) will be a hosted service here.
var builder = Host.CreateApplicationBuilder(args);

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton(DockerEndpoint.Parse(builder.Configuration["DOCKER_HOST"]));
builder.Services.AddSingleton<IDockerClient>(sp => new DockerClient(sp.GetRequiredService<DockerEndpoint>(), sp.GetRequiredService<TimeProvider>()));
builder.Services.AddSingleton<IHealthProbe>(sp => new HttpHealthProbe(sp.GetRequiredService<TimeProvider>()));
builder.Services.AddSingleton(new DeployEngineOptions());
builder.Services.AddSingleton<IDeployEngine, DeployEngine>();

var host = builder.Build();
host.Run();
