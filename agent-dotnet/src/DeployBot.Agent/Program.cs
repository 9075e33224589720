using System.Net;
using DeployBot.Agent;
using DeployBot.Agent.Agent;

// The agent's host: settings are checked before anything starts, and each bad value gets its own line.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args,
    // appsettings.json beside the executable, whatever the working directory (systemd starts in /).
    ContentRootPath = AppContext.BaseDirectory,
});
var settings = AgentSettings.Load(builder.Configuration, Dns.GetHostName, out var problems);
if (settings is null)
{
    foreach (var problem in problems)
    {
        Console.Error.WriteLine($"deploybot-agent: {problem}");
    }
    Console.Error.WriteLine("deploybot-agent: not started; fix the settings above (environment or appsettings.json)");
    return 2;
}

builder.Services.AddSystemd();
builder.Services.AddDeployEngine(builder.Configuration);
builder.Services.AddAgent(settings);
await builder.Build().RunAsync();
return Environment.ExitCode;
