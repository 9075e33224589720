using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DeployBot.Agent.Deploy;

namespace DeployBot.Agent.Docker;

/// <summary>The Engine API calls a deploy needs. Every call throws <see cref="DockerUnavailableException"/>
/// when the engine cannot be reached and <see cref="DockerApiException"/> when it refuses.</summary>
public interface IDockerClient
{
    DockerEndpoint Endpoint { get; }

    /// <summary>Returns the engine's API version.</summary>
    Task<string> PingAsync(CancellationToken cancellationToken);

    Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken);

    /// <summary>Pulls <paramref name="image"/>; <paramref name="progress"/> receives the noteworthy progress lines.</summary>
    Task PullImageAsync(string image, RegistryCredentials? credentials, Action<string> progress, CancellationToken cancellationToken);

    /// <summary>Null when no such container exists.</summary>
    Task<ContainerInfo?> InspectContainerAsync(string nameOrId, CancellationToken cancellationToken);

    /// <summary>Names (without the leading '/') of all containers whose name contains <paramref name="name"/>.</summary>
    Task<IReadOnlyList<string>> ListContainerNamesAsync(string name, CancellationToken cancellationToken);

    /// <summary>Returns the new container's id.</summary>
    Task<string> CreateContainerAsync(string name, JsonObject body, CancellationToken cancellationToken);

    Task StartContainerAsync(string id, CancellationToken cancellationToken);

    Task StopContainerAsync(string id, TimeSpan grace, CancellationToken cancellationToken);

    Task RenameContainerAsync(string id, string newName, CancellationToken cancellationToken);

    /// <summary>Force-removes a container; false when it did not exist.</summary>
    Task<bool> RemoveContainerAsync(string id, CancellationToken cancellationToken);

    /// <summary>The last <paramref name="tail"/> lines the container wrote, with their stream.</summary>
    Task<IReadOnlyList<(string Stream, string Text)>> ContainerLogsAsync(string id, int tail, CancellationToken cancellationToken);
}

/// <summary>
/// <see cref="IDockerClient"/> over plain <see cref="HttpClient"/>, on a unix socket
/// (<see cref="SocketsHttpHandler.ConnectCallback"/>) or TCP. Calls other than a pull give up after
/// <see cref="RequestTimeout"/> (plus the stop grace for a stop); a pull runs until done or cancelled.
/// </summary>
public sealed class DockerClient : IDockerClient, IDisposable
{
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);

    private readonly HttpClient _http;
    private readonly TimeProvider _time;

    public DockerClient(DockerEndpoint endpoint, TimeProvider time)
    {
        Endpoint = endpoint;
        _time = time;
        _http = new HttpClient(CreateHandler(endpoint))
        {
            BaseAddress = endpoint.BaseAddress,
            // Timeouts are per call, below; a pull of a large image may rightly take many minutes.
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public DockerEndpoint Endpoint { get; }

    public async Task<string> PingAsync(CancellationToken cancellationToken)
    {
        var request = DockerRequest.Ping();
        using var response = await SendAsync(request, RequestTimeout, cancellationToken, HttpCompletionOption.ResponseContentRead);
        await EnsureSuccessAsync(request, response, cancellationToken);
        return response.Headers.TryGetValues("Api-Version", out var values) ? values.First() : "unknown";
    }

    public async Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken)
    {
        var request = DockerRequest.InspectImage(ImageReference.Parse(image));
        using var response = await SendAsync(request, RequestTimeout, cancellationToken, HttpCompletionOption.ResponseContentRead);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        await EnsureSuccessAsync(request, response, cancellationToken);
        return true;
    }

    public async Task PullImageAsync(string image, RegistryCredentials? credentials, Action<string> progress, CancellationToken cancellationToken)
    {
        var request = DockerRequest.PullImage(ImageReference.Parse(image), credentials);
        using var response = await SendAsync(request, null, cancellationToken, HttpCompletionOption.ResponseHeadersRead);
        await EnsureSuccessAsync(request, response, cancellationToken);

        // A 200 only means the pull started: failures arrive later as {"error": ...} lines in the stream.
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string? line;
        try
        {
            while ((line = await reader.ReadLineAsync(cancellationToken)) is not null)
            {
                if (line.Length == 0)
                {
                    continue;
                }
                var item = PullProgress.Parse(line);
                if (item.Error is not null)
                {
                    throw new DockerApiException(200, item.Error, request.ToString());
                }
                if (item.IsNoteworthy)
                {
                    progress(item.ToString());
                }
            }
        }
        catch (IOException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new DockerUnavailableException($"the Docker engine at {Endpoint} broke off {request}: {ex.Message}", ex);
        }
    }

    public async Task<ContainerInfo?> InspectContainerAsync(string nameOrId, CancellationToken cancellationToken)
    {
        var request = DockerRequest.InspectContainer(nameOrId);
        var (status, body) = await CallAsync(request, RequestTimeout, cancellationToken, HttpStatusCode.NotFound);
        if (status == HttpStatusCode.NotFound)
        {
            return null;
        }
        using var doc = JsonDocument.Parse(body);
        return ParseContainer(doc.RootElement);
    }

    public async Task<IReadOnlyList<string>> ListContainerNamesAsync(string name, CancellationToken cancellationToken)
    {
        var (_, body) = await CallAsync(DockerRequest.ListContainers(name), RequestTimeout, cancellationToken);
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.EnumerateArray()
            .SelectMany(c => c.TryGetProperty("Names", out var names) ? names.EnumerateArray().Select(n => n.GetString() ?? "") : [])
            .Select(n => n.TrimStart('/'))
            .Where(n => n.Length > 0)
            .ToList();
    }

    public async Task<string> CreateContainerAsync(string name, JsonObject body, CancellationToken cancellationToken)
    {
        var (_, answer) = await CallAsync(DockerRequest.CreateContainer(name, body), RequestTimeout, cancellationToken);
        using var doc = JsonDocument.Parse(answer);
        return doc.RootElement.GetProperty("Id").GetString()
            ?? throw new DockerApiException(201, "the engine returned no container id", $"POST /containers/create?name={name}");
    }

    public Task StartContainerAsync(string id, CancellationToken cancellationToken) =>
        // 304: already running, which is what was asked for.
        CallAsync(DockerRequest.StartContainer(id), RequestTimeout, cancellationToken, HttpStatusCode.NotModified);

    public Task StopContainerAsync(string id, TimeSpan grace, CancellationToken cancellationToken) =>
        CallAsync(DockerRequest.StopContainer(id, grace), RequestTimeout + grace, cancellationToken, HttpStatusCode.NotModified);

    public Task RenameContainerAsync(string id, string newName, CancellationToken cancellationToken) =>
        CallAsync(DockerRequest.RenameContainer(id, newName), RequestTimeout, cancellationToken);

    public async Task<bool> RemoveContainerAsync(string id, CancellationToken cancellationToken)
    {
        var (status, _) = await CallAsync(DockerRequest.RemoveContainer(id), RequestTimeout, cancellationToken, HttpStatusCode.NotFound);
        return status != HttpStatusCode.NotFound;
    }

    public async Task<IReadOnlyList<(string Stream, string Text)>> ContainerLogsAsync(string id, int tail, CancellationToken cancellationToken)
    {
        var request = DockerRequest.ContainerLogs(id, tail);
        using var response = await SendAsync(request, RequestTimeout, cancellationToken, HttpCompletionOption.ResponseContentRead);
        await EnsureSuccessAsync(request, response, cancellationToken);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return LogFrames.Demux(bytes);
    }

    public void Dispose() => _http.Dispose();

    /// <summary>Any call, for tests that check what the engine holds beyond what a deploy needs.</summary>
    internal async Task<string> SendRawAsync(DockerRequest request, CancellationToken cancellationToken)
    {
        var (_, body) = await CallAsync(request, RequestTimeout, cancellationToken);
        return body;
    }

    internal static ContainerInfo ParseContainer(JsonElement root)
    {
        var state = root.GetProperty("State");
        var labels = new Dictionary<string, string>();
        if (root.TryGetProperty("Config", out var config) && config.TryGetProperty("Labels", out var l) && l.ValueKind == JsonValueKind.Object)
        {
            foreach (var label in l.EnumerateObject())
            {
                labels[label.Name] = label.Value.GetString() ?? "";
            }
        }
        return new ContainerInfo(
            Id: root.GetProperty("Id").GetString() ?? "",
            Name: (root.GetProperty("Name").GetString() ?? "").TrimStart('/'),
            Image: config.ValueKind == JsonValueKind.Object && config.TryGetProperty("Image", out var image) ? image.GetString() ?? "" : "",
            Running: state.GetProperty("Running").GetBoolean(),
            Status: state.GetProperty("Status").GetString() ?? "",
            ExitCode: state.TryGetProperty("ExitCode", out var code) ? code.GetInt32() : 0,
            StartedAt: state.TryGetProperty("StartedAt", out var started) ? started.GetString() ?? "" : "",
            Labels: labels,
            Published: ParsePublished(root));
    }

    /// <summary><c>NetworkSettings.Ports</c>: the first binding of each container port, as <c>ip:port</c>.</summary>
    private static Dictionary<string, string> ParsePublished(JsonElement root)
    {
        var published = new Dictionary<string, string>();
        if (root.TryGetProperty("NetworkSettings", out var network) && network.ValueKind == JsonValueKind.Object
            && network.TryGetProperty("Ports", out var ports) && ports.ValueKind == JsonValueKind.Object)
        {
            foreach (var port in ports.EnumerateObject())
            {
                if (port.Value.ValueKind == JsonValueKind.Array && port.Value.EnumerateArray().FirstOrDefault() is { ValueKind: JsonValueKind.Object } binding)
                {
                    var ip = binding.TryGetProperty("HostIp", out var h) ? h.GetString() : "";
                    var hostPort = binding.TryGetProperty("HostPort", out var hp) ? hp.GetString() : "";
                    published[port.Name] = $"{(string.IsNullOrEmpty(ip) ? "0.0.0.0" : ip)}:{hostPort}";
                }
            }
        }
        return published;
    }

    private async Task<(HttpStatusCode Status, string Body)> CallAsync(
        DockerRequest request, TimeSpan timeout, CancellationToken cancellationToken, params HttpStatusCode[] alsoFine)
    {
        using var response = await SendAsync(request, timeout, cancellationToken, HttpCompletionOption.ResponseContentRead);
        if (alsoFine.Contains(response.StatusCode))
        {
            return (response.StatusCode, "");
        }
        await EnsureSuccessAsync(request, response, cancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
    }

    private async Task<HttpResponseMessage> SendAsync(
        DockerRequest request, TimeSpan? timeout, CancellationToken cancellationToken, HttpCompletionOption completion)
    {
        using var message = new HttpRequestMessage(new HttpMethod(request.Method), request.Path.TrimStart('/'));
        if (request.Body is not null)
        {
            message.Content = new StringContent(request.Body.ToJsonString(), Encoding.UTF8, "application/json");
        }
        else if (request.Method == "POST")
        {
            // The engine wants a body (or a Content-Type) on some POSTs even when there is nothing to say.
            message.Content = new StringContent("", Encoding.UTF8, "application/json");
        }
        if (request.RegistryAuth is not null)
        {
            message.Headers.Add(RegistryAuthHeader.Name, request.RegistryAuth);
        }

        using var deadline = timeout is { } t ? new CancellationTokenSource(t, _time) : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            return await _http.SendAsync(message, completion, linked.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new DockerUnavailableException($"the Docker engine at {Endpoint} did not answer {request} within {timeout!.Value.TotalSeconds:0}s");
        }
        catch (HttpRequestException ex) when (!cancellationToken.IsCancellationRequested)
        {
            var reason = ex.InnerException is IOException { InnerException: SocketException } io ? io.Message : ex.Message;
            throw new DockerUnavailableException($"cannot reach the Docker engine at {Endpoint}: {reason}", ex);
        }
    }

    private static async Task EnsureSuccessAsync(DockerRequest request, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        var message = body.Trim();
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("message", out var m) && m.GetString() is { Length: > 0 } text)
            {
                message = text;
            }
        }
        catch (JsonException)
        {
            // Not JSON: keep the raw text, which is what the engine said.
        }
        throw new DockerApiException((int)response.StatusCode, message.Length > 0 ? message : $"HTTP {(int)response.StatusCode}", request.ToString());
    }

    private static SocketsHttpHandler CreateHandler(DockerEndpoint endpoint)
    {
        var handler = new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) };
        if (endpoint.SocketPath is { } path)
        {
            handler.ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch (SocketException ex)
                {
                    socket.Dispose();
                    // .NET reports a missing socket file as "Cannot assign requested address": say what it means.
                    throw new IOException(
                        !File.Exists(path) ? $"no socket at {path} (is dockerd running, and is DOCKER_HOST right?)"
                        : ex.SocketErrorCode == SocketError.ConnectionRefused ? $"nothing listens on {path} (is dockerd running?)"
                        : ex.SocketErrorCode == SocketError.AccessDenied ? $"permission denied on {path} (is this user in the docker group?)"
                        : $"{path}: {ex.Message}",
                        ex);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }
        return handler;
    }
}
