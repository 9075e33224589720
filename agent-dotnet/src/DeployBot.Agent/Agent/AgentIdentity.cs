using DeployBot.Agent.Protocol;
using DeployBot.Agent.State;

namespace DeployBot.Agent.Agent;

/// <summary>
/// This agent's id and token (protocol §1): loaded from the state file when it was saved for the same
/// controller and host name, otherwise obtained by registering with the enroll token and saved (0600).
/// Registers again, naming the old id, only when the controller no longer knows the token (a 401).
/// </summary>
public sealed class AgentIdentity(
    IControllerClient client, IAgentStateStore store, AgentSettings settings, RetryLoop retry, ILogger logger)
{
    private AgentCredentials? _current;

    public AgentCredentials Current => _current ?? throw new InvalidOperationException("the agent has not registered yet");

    public async Task<AgentCredentials> EnsureAsync(CancellationToken cancellationToken)
    {
        if (_current is not null)
        {
            return _current;
        }
        SavedIdentity? saved = null;
        try
        {
            saved = store.Load();
        }
        catch (InvalidDataException ex)
        {
            logger.LogWarning("The saved identity cannot be read ({Error}); registering again", ex.Message);
        }
        if (saved is not null && saved.ControllerUrl == client.BaseAddress.AbsoluteUri && saved.Hostname == settings.Hostname)
        {
            logger.LogInformation("Using the saved identity: agent {AgentId} for host {Hostname}", saved.AgentId, saved.Hostname);
            return _current = new AgentCredentials(saved.AgentId, saved.Token);
        }
        if (saved is not null)
        {
            logger.LogInformation("The saved identity is for {Hostname} at {Url}; registering for {NewHostname} at {NewUrl}",
                saved.Hostname, saved.ControllerUrl, settings.Hostname, client.BaseAddress.AbsoluteUri);
        }
        return await RegisterAsync(previousAgentId: null, cancellationToken);
    }

    /// <summary>After a 401: the controller forgot this agent. Registers again in place of the current id.</summary>
    public Task<AgentCredentials> RenewAsync(CancellationToken cancellationToken)
    {
        logger.LogWarning("The controller no longer accepts the token of agent {AgentId}; registering again", _current?.AgentId);
        return RegisterAsync(_current?.AgentId, cancellationToken);
    }

    private async Task<AgentCredentials> RegisterAsync(string? previousAgentId, CancellationToken cancellationToken)
    {
        var request = new RegisterRequest(settings.Hostname, AgentSettings.Version, previousAgentId);
        Registration registration;
        try
        {
            registration = await retry.RunAsync(
                "registering with the controller",
                ct => client.RegisterAsync(settings.EnrollToken, request, ct),
                cancellationToken);
        }
        catch (ControllerException ex) when (ex.Fault == ControllerFault.Unauthorized)
        {
            throw new AgentFatalException($"The controller at {client.BaseAddress} refused DEPLOYBOT_ENROLL_TOKEN ({ex.Message}): set it to the controller's AGENT_ENROLL_TOKEN", ex);
        }
        catch (ControllerException ex)
        {
            throw new AgentFatalException($"The controller at {client.BaseAddress} refused to register host {settings.Hostname}: {ex.Message}", ex);
        }
        store.Save(new SavedIdentity(client.BaseAddress.AbsoluteUri, settings.Hostname, registration.AgentId, registration.Token));
        logger.LogInformation("Registered as agent {AgentId} for host {Hostname}", registration.AgentId, settings.Hostname);
        return _current = new AgentCredentials(registration.AgentId, registration.Token);
    }
}
