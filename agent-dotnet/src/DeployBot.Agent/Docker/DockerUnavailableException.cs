namespace DeployBot.Agent.Docker;

/// <summary>The engine could not be reached, or did not answer in time: nothing was said, so nothing is known.</summary>
public sealed class DockerUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
