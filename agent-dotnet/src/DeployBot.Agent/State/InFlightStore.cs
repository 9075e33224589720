namespace DeployBot.Agent.State;

/// <summary>
/// The deploy this agent has started and not yet finished reporting. Written before a deploy touches
/// the host, removed after the final report: if the agent finds one at start, it died mid-deploy.
/// </summary>
/// <param name="Proxy">The job's proxy block when it is a cutover: recovery needs the admin address and the route.</param>
public sealed record InFlightJob(string JobId, int Attempt, string Container, string AgentId, DateTimeOffset StartedAt, Deploy.ProxySpec? Proxy = null);

public interface IInFlightStore
{
    /// <exception cref="InvalidDataException">The marker exists but cannot be read.</exception>
    InFlightJob? Load();

    void Save(InFlightJob job);

    void Clear();
}

/// <summary><see cref="IInFlightStore"/> as <c>in-flight.json</c> (mode 0600) in the state directory.</summary>
public sealed class FileInFlightStore(string stateDirectory) : IInFlightStore
{
    public string Path { get; } = System.IO.Path.Combine(stateDirectory, "in-flight.json");

    public InFlightJob? Load() => SecureFile.Read(Path, StateJson.Default.InFlightJob);

    public void Save(InFlightJob job) => SecureFile.Write(Path, job, StateJson.Default.InFlightJob);

    public void Clear() => File.Delete(Path);
}
