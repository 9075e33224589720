using DeployBot.Agent;

// The agent's host. For now it only wires the deploy engine; the controller protocol client
// (register, heartbeat long poll, status and log shipping) will be a hosted service added here.
var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddDeployEngine(builder.Configuration);
builder.Build().Run();
