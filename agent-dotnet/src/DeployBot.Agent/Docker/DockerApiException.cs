namespace DeployBot.Agent.Docker;

/// <summary>The engine answered, and said no: a non-2xx status, or an error inside a pull's progress stream.</summary>
public sealed class DockerApiException(int statusCode, string message, string request)
    : Exception($"{request}: {message}")
{
    /// <summary>The HTTP status; 200 for an error reported inside a streamed answer.</summary>
    public int StatusCode { get; } = statusCode;

    /// <summary>The engine's own message, without the request.</summary>
    public string EngineMessage { get; } = message;

    public string Request { get; } = request;
}
