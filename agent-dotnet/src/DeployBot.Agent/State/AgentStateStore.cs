namespace DeployBot.Agent.State;

/// <summary>The identity the controller gave this agent, and which controller and host name it is for.</summary>
public sealed record SavedIdentity(string ControllerUrl, string Hostname, string AgentId, string Token);

/// <summary>Keeps the agent's identity across restarts (protocol §1: register once, reuse the token).</summary>
public interface IAgentStateStore
{
    /// <summary>Null when none was saved. A damaged file is reported as null with a warning by the caller.</summary>
    /// <exception cref="InvalidDataException">The file exists but cannot be read as an identity.</exception>
    SavedIdentity? Load();

    void Save(SavedIdentity identity);
}

/// <summary><see cref="IAgentStateStore"/> as <c>agent.json</c> (mode 0600) in the state directory.</summary>
public sealed class FileAgentStateStore(string stateDirectory) : IAgentStateStore
{
    public const string FileName = "agent.json";

    public string Path { get; } = System.IO.Path.Combine(stateDirectory, FileName);

    public SavedIdentity? Load() => SecureFile.Read(Path, StateJson.Default.SavedIdentity);

    public void Save(SavedIdentity identity) => SecureFile.Write(Path, identity, StateJson.Default.SavedIdentity);
}
