using System.Text.Json.Serialization;
using DeployBot.Agent.Deploy;

namespace DeployBot.Agent.Protocol;

// The controller's agent protocol (docs/agent-protocol.md, src/schemas/agents.ts), snake_case on the wire.

public sealed record RegisterRequest(string Hostname, string Version, string? PreviousAgentId = null);

public sealed record Registration(string AgentId, string Token, int HeartbeatIntervalS);

public sealed record HeartbeatRequest(string? RunningJobId);

public sealed record HeartbeatResponse(AssignedJob? Job, IReadOnlyList<string> Cancel)
{
    public static HeartbeatResponse Empty { get; } = new(null, []);
}

/// <summary>A job handed to this agent: the Job fields the agent uses, plus its rendered deploy section.</summary>
public sealed record AssignedJob
{
    public required string Id { get; init; }
    public required string App { get; init; }
    public string Repo { get; init; } = "";
    public string Ref { get; init; } = "";
    public required string Sha { get; init; }
    public int Attempt { get; init; } = 1;
    public double LeaseS { get; init; } = 60;
    public required DeploySpec Deploy { get; init; }

    public DeployJob ToDeployJob() => new() { JobId = Id, App = App, Sha = Sha, Deploy = Deploy };
}

public static class JobStatuses
{
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
}

public sealed record StatusReport(string Status, int Attempt, string? Error = null, int? ExitCode = null);

public sealed record LogLine(long Seq, string Ts, string Stream, string Text);

public sealed record LogBatch(int Attempt, IReadOnlyList<LogLine> Lines);

public sealed record ErrorBody(ErrorDetail? Error);

public sealed record ErrorDetail(string? Code, string? Message);

/// <summary>Source-generated JSON for the protocol: no reflection, so the agent can be trimmed.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RegisterRequest))]
[JsonSerializable(typeof(Registration))]
[JsonSerializable(typeof(HeartbeatRequest))]
[JsonSerializable(typeof(HeartbeatResponse))]
[JsonSerializable(typeof(StatusReport))]
[JsonSerializable(typeof(LogBatch))]
[JsonSerializable(typeof(ErrorBody))]
internal sealed partial class ProtocolJson : JsonSerializerContext;
