namespace DeployBot.Agent.Agent;

/// <summary>A fault the agent cannot get past by retrying (a wrong enroll token, a host name the controller
/// refuses): the process exits non-zero with this message.</summary>
public sealed class AgentFatalException(string message, Exception? inner = null) : Exception(message, inner);
