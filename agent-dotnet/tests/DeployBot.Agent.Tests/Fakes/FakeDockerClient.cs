using System.Text.Json.Nodes;
using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;

namespace DeployBot.Agent.Tests.Fakes;

/// <summary>An in-memory Docker engine: containers, local images and a registry, with hooks to fail or
/// cancel at a given call. Every call is recorded as "verb arg…" in <see cref="Calls"/>.</summary>
internal sealed class FakeDockerClient : IDockerClient
{
    internal sealed class Container
    {
        public required string Id { get; init; }
        public required string Name { get; set; }
        public required string Image { get; init; }
        public bool Running { get; set; }
        public int ExitCode { get; set; }
        public JsonObject Body { get; init; } = new();
        public List<(string, string)> Output { get; } = [];
    }

    private int _nextId;

    public List<Container> Containers { get; } = [];
    public HashSet<string> LocalImages { get; } = [];
    public HashSet<string> RegistryImages { get; } = [];
    public List<string> Calls { get; } = [];

    /// <summary>Called before each call with its record; throw from it to make the call fail.</summary>
    public Action<string>? BeforeCall { get; set; }

    /// <summary>Called after a container is started, e.g. to make it exit.</summary>
    public Action<Container>? AfterStart { get; set; }

    public DockerEndpoint Endpoint { get; } = DockerEndpoint.Unix("/fake/docker.sock");

    public Container? Named(string name) => Containers.SingleOrDefault(c => c.Name == name);

    public Container Add(string name, string image, bool running = true)
    {
        var container = new Container { Id = NewId(), Name = name, Image = image, Running = running };
        Containers.Add(container);
        LocalImages.Add(image);
        return container;
    }

    public Task<string> PingAsync(CancellationToken cancellationToken)
    {
        Record("ping", cancellationToken);
        return Task.FromResult("1.41");
    }

    public Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken)
    {
        Record($"image-exists {image}", cancellationToken);
        return Task.FromResult(LocalImages.Contains(image));
    }

    public Task PullImageAsync(string image, RegistryCredentials? credentials, Action<string> progress, CancellationToken cancellationToken)
    {
        Record($"pull {image}", cancellationToken);
        if (!RegistryImages.Contains(image))
        {
            throw new DockerApiException(404, $"manifest for {image} not found: manifest unknown", "POST /images/create");
        }
        progress("Status: Downloaded newer image");
        LocalImages.Add(image);
        return Task.CompletedTask;
    }

    public Task<ContainerInfo?> InspectContainerAsync(string nameOrId, CancellationToken cancellationToken)
    {
        Record($"inspect {nameOrId}", cancellationToken);
        var c = Find(nameOrId);
        return Task.FromResult(c is null ? null : new ContainerInfo(
            c.Id, c.Name, c.Image, c.Running, c.Running ? "running" : "exited", c.ExitCode, "2026-01-01T00:00:00Z",
            c.Body["Labels"] is JsonObject labels
                ? labels.ToDictionary(l => l.Key, l => l.Value!.GetValue<string>())
                : new Dictionary<string, string>()));
    }

    public Task<IReadOnlyList<string>> ListContainerNamesAsync(string name, CancellationToken cancellationToken)
    {
        Record($"list {name}", cancellationToken);
        return Task.FromResult<IReadOnlyList<string>>(Containers.Where(c => c.Name.Contains(name)).Select(c => c.Name).ToList());
    }

    public Task<string> CreateContainerAsync(string name, JsonObject body, CancellationToken cancellationToken)
    {
        Record($"create {name}", cancellationToken);
        if (Named(name) is not null)
        {
            throw new DockerApiException(409, $"Conflict. The container name \"/{name}\" is already in use", "POST /containers/create");
        }
        var image = body["Image"]!.GetValue<string>();
        if (!LocalImages.Contains(image))
        {
            throw new DockerApiException(404, $"No such image: {image}", "POST /containers/create");
        }
        var container = new Container { Id = NewId(), Name = name, Image = image, Body = body };
        Containers.Add(container);
        return Task.FromResult(container.Id);
    }

    public Task StartContainerAsync(string id, CancellationToken cancellationToken)
    {
        Record($"start {id}", cancellationToken);
        var c = Get(id);
        c.Running = true;
        AfterStart?.Invoke(c);
        return Task.CompletedTask;
    }

    public Task StopContainerAsync(string id, TimeSpan grace, CancellationToken cancellationToken)
    {
        Record($"stop {id}", cancellationToken);
        Get(id).Running = false;
        return Task.CompletedTask;
    }

    public Task RenameContainerAsync(string id, string newName, CancellationToken cancellationToken)
    {
        Record($"rename {id} {newName}", cancellationToken);
        if (Named(newName) is not null)
        {
            throw new DockerApiException(409, $"Conflict. The container name \"/{newName}\" is already in use", "POST /containers/rename");
        }
        Get(id).Name = newName;
        return Task.CompletedTask;
    }

    public Task<bool> RemoveContainerAsync(string id, CancellationToken cancellationToken)
    {
        Record($"remove {id}", cancellationToken);
        return Task.FromResult(Containers.RemoveAll(c => c.Id == id) > 0);
    }

    public Task<IReadOnlyList<(string Stream, string Text)>> ContainerLogsAsync(string id, int tail, CancellationToken cancellationToken)
    {
        Record($"logs {id}", cancellationToken);
        return Task.FromResult<IReadOnlyList<(string, string)>>(Get(id).Output.TakeLast(tail).ToList());
    }

    private void Record(string call, CancellationToken cancellationToken)
    {
        // Like a real HTTP call: a cancelled token fails the call before it is sent.
        cancellationToken.ThrowIfCancellationRequested();
        Calls.Add(call);
        BeforeCall?.Invoke(call);
    }

    private Container? Find(string nameOrId) => Containers.SingleOrDefault(c => c.Id == nameOrId || c.Name == nameOrId);

    private Container Get(string id) =>
        Find(id) ?? throw new DockerApiException(404, $"No such container: {id}", "fake");

    private string NewId() => $"{++_nextId:D2}" + new string('a', 62);
}
