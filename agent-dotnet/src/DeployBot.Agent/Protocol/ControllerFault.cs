namespace DeployBot.Agent.Protocol;

/// <summary>What went wrong with a controller call, and so what the agent does about it (protocol §7).</summary>
public enum ControllerFault
{
    /// <summary>No answer: connection refused or reset, DNS, timeout. Retry.</summary>
    Unreachable,

    /// <summary>5xx or 429: the controller is there but busy or broken. Retry.</summary>
    Busy,

    /// <summary>401: the token is unknown. On a heartbeat, register again.</summary>
    Unauthorized,

    /// <summary>401 <c>agent_revoked</c>: an operator revoked this agent. Stop for good; never register again by itself.</summary>
    Revoked,

    /// <summary>403: not this agent's job or host. Drop it.</summary>
    Forbidden,

    /// <summary>404: no such job. Drop it.</summary>
    NotFound,

    /// <summary>409: this agent no longer holds the attempt. Stop quietly.</summary>
    Stale,

    /// <summary>400, 422 and any other 4xx: the request itself is wrong. Do not send it again.</summary>
    Rejected,
}

public static class ControllerFaults
{
    /// <summary>The fault an HTTP status stands for; null for a success.</summary>
    public static ControllerFault? FromStatus(int status) => status switch
    {
        >= 200 and <= 299 => null,
        401 => ControllerFault.Unauthorized,
        403 => ControllerFault.Forbidden,
        404 => ControllerFault.NotFound,
        409 => ControllerFault.Stale,
        429 => ControllerFault.Busy,
        >= 500 => ControllerFault.Busy,
        _ => ControllerFault.Rejected,
    };

    /// <summary>Only an absent or overloaded controller is worth asking again with the same request.</summary>
    public static bool IsRetriable(this ControllerFault fault) => fault is ControllerFault.Unreachable or ControllerFault.Busy;

    /// <summary>The job is not ours to finish any more: 403, 404 or 409 on a report, or this agent was revoked.</summary>
    public static bool LosesJob(this ControllerFault fault) =>
        fault is ControllerFault.Stale or ControllerFault.Forbidden or ControllerFault.NotFound or ControllerFault.Revoked;

    /// <summary>The fault of a refusal, refined by the error code of its body (a 401 may be a revocation).</summary>
    public static ControllerFault Refine(ControllerFault fault, string? code) =>
        fault == ControllerFault.Unauthorized && code == "agent_revoked" ? ControllerFault.Revoked : fault;
}

/// <summary>A controller call that did not succeed; <see cref="Fault"/> says what to do about it.</summary>
public sealed class ControllerException(ControllerFault fault, int? status, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public ControllerFault Fault { get; } = fault;

    /// <summary>The HTTP status, or null when there was no answer.</summary>
    public int? Status { get; } = status;

    public bool IsRetriable => Fault.IsRetriable();
}
