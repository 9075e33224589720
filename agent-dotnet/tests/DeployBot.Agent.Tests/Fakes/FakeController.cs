using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;

namespace DeployBot.Agent.Tests.Fakes;

/// <summary>
/// The controller's agent routes in memory, behind an <see cref="HttpMessageHandler"/>, on a fake clock:
/// registration, long-poll heartbeats that hand out queued jobs and cancels, status reports, and log
/// batches stored by seq (a repeated seq is ignored, as the real controller does). <see cref="Fault"/>
/// answers a request with an error status instead, to stage outages and refusals.
/// </summary>
internal sealed class FakeController(FakeTimeProvider time) : HttpMessageHandler
{
    /// <summary>A request and its answer; <see cref="At"/> is when it arrived (fake time since the start).</summary>
    public sealed record Call(TimeSpan At, string Path, int Wait, JsonObject? Body, int Status);

    public sealed record Report(string JobId, string Status, int? Attempt, string? Error);

    public const string BaseUrl = "http://controller.test/";

    private readonly object _gate = new();
    private readonly DateTimeOffset _start = time.GetUtcNow();
    private readonly Queue<JsonObject> _queue = new();
    private readonly HashSet<string> _cancelled = [];
    private readonly Dictionary<string, string> _tokens = [];
    private readonly HashSet<string> _revoked = [];
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _agents;

    /// <summary>Answered requests, in the order of their answers.</summary>
    public List<Call> Calls { get; } = [];

    /// <summary>Paths of requests as they arrive, answered or not.</summary>
    public List<string> Arrivals { get; } = [];
    public List<Report> Reports { get; } = [];

    /// <summary>Every log line accepted, by job, in arrival order; a resent seq is not stored again.</summary>
    public Dictionary<string, List<(long Seq, string Text)>> Logs { get; } = [];

    /// <summary>Answers a request with this status instead of handling it, when it returns one.</summary>
    public Func<string, HttpStatusCode?> Fault { get; set; } = _ => null;

    public HttpClient Client() => new(this) { Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>Accepts this token for this agent id, as if it had registered before.</summary>
    public void Know(string agentId, string token)
    {
        lock (_gate)
        {
            _tokens[token] = agentId;
        }
    }

    public void Forget(string token)
    {
        lock (_gate)
        {
            _tokens.Remove(token);
        }
    }

    /// <summary>Refuses this token from now on with 401 <c>agent_revoked</c>, as DELETE /v1/agents/{id} does.</summary>
    public void Revoke(string token)
    {
        lock (_gate)
        {
            _revoked.Add(token);
        }
    }

    public static JsonObject Job(string id, int attempt = 1, double leaseS = 30, string container = "web") => new()
    {
        ["id"] = id,
        ["app"] = "web",
        ["repo"] = "acme/web",
        ["ref"] = "refs/heads/main",
        ["sha"] = "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        ["host"] = "host-01",
        ["mode"] = "agent",
        ["status"] = "running",
        ["attempt"] = attempt,
        ["lease_s"] = leaseS,
        ["deploy"] = new JsonObject
        {
            ["image"] = "registry.test/acme/web:6113728",
            ["container"] = container,
            ["ports"] = new JsonArray("8080:80"),
            ["env"] = new JsonObject(),
            ["health"] = new JsonObject { ["url"] = "http://127.0.0.1:8080/up", ["timeout"] = 30 },
        },
    };

    public void Enqueue(JsonObject job)
    {
        lock (_gate)
        {
            _queue.Enqueue(job);
            _wake.TrySetResult();
        }
    }

    public void Cancel(string jobId)
    {
        lock (_gate)
        {
            _cancelled.Add(jobId);
            _wake.TrySetResult();
        }
    }

    public List<Call> CallsTo(string pathPart)
    {
        lock (_gate)
        {
            return Calls.Where(c => c.Path.Contains(pathPart, StringComparison.Ordinal)).ToList();
        }
    }

    public List<Report> ReportsSnapshot()
    {
        lock (_gate)
        {
            return [.. Reports];
        }
    }

    public List<long> Seqs(string jobId)
    {
        lock (_gate)
        {
            return Logs.TryGetValue(jobId, out var lines) ? lines.Select(l => l.Seq).ToList() : [];
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = request.RequestUri!.AbsolutePath;
        var query = request.RequestUri.Query;
        var wait = query.StartsWith("?wait=", StringComparison.Ordinal) ? int.Parse(query["?wait=".Length..]) : 0;
        var text = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
        var body = text.Length > 0 ? JsonNode.Parse(text)!.AsObject() : null;
        var token = request.Headers.Authorization?.Parameter ?? "";
        var at = time.GetUtcNow() - _start;
        lock (_gate)
        {
            Arrivals.Add(path);
        }
        HttpResponseMessage Answer(HttpStatusCode status, JsonObject? json) => Respond(at, path, wait, body, status, json);

        if (Fault(path) is { } fault)
        {
            return Answer(fault, null);
        }
        if (path == "/v1/agents/register")
        {
            var id = $"agent-{Interlocked.Increment(ref _agents)}";
            Know(id, $"{id}.secret");
            return Answer(HttpStatusCode.Created,
                new JsonObject { ["agent_id"] = id, ["token"] = $"{id}.secret", ["heartbeat_interval_s"] = 10 });
        }
        bool known, revoked;
        lock (_gate)
        {
            known = _tokens.ContainsKey(token);
            revoked = _revoked.Contains(token);
        }
        if (revoked)
        {
            return Answer(HttpStatusCode.Unauthorized, Error("agent_revoked", "this agent was revoked by an operator; the host can only come back as a new agent, registered by a person"));
        }
        if (!known)
        {
            return Answer(HttpStatusCode.Unauthorized, Error("unauthorized", "unknown token"));
        }
        if (path.EndsWith("/heartbeat", StringComparison.Ordinal))
        {
            return await HeartbeatAsync(body, wait, Answer, cancellationToken);
        }
        if (path.EndsWith("/status", StringComparison.Ordinal))
        {
            var jobId = path.Split('/')[3];
            lock (_gate)
            {
                Reports.Add(new Report(jobId, (string)body!["status"]!, (int?)body["attempt"], (string?)body["error"]));
            }
            return Answer(HttpStatusCode.OK, new JsonObject { ["id"] = jobId });
        }
        if (path.EndsWith("/logs", StringComparison.Ordinal))
        {
            var jobId = path.Split('/')[3];
            lock (_gate)
            {
                var stored = Logs.TryGetValue(jobId, out var list) ? list : Logs[jobId] = [];
                foreach (var line in body!["lines"]!.AsArray())
                {
                    var seq = (long)line!["seq"]!;
                    if (!stored.Any(l => l.Seq == seq))
                    {
                        stored.Add((seq, (string)line["text"]!));
                    }
                }
            }
            return Answer(HttpStatusCode.NoContent, null);
        }
        return Answer(HttpStatusCode.NotFound, Error("not_found", path));
    }

    private async Task<HttpResponseMessage> HeartbeatAsync(JsonObject? body, int wait, Func<HttpStatusCode, JsonObject?, HttpResponseMessage> Answer, CancellationToken cancellationToken)
    {
        var running = (string?)body?["running_job_id"];
        var deadline = time.GetUtcNow() + TimeSpan.FromSeconds(wait);
        while (true)
        {
            Task woken;
            lock (_gate)
            {
                var cancel = new JsonArray(_cancelled.Where(id => id == running).Select(id => (JsonNode)id).ToArray());
                if (running is null && _queue.Count > 0)
                {
                    return Answer(HttpStatusCode.OK, new JsonObject { ["job"] = _queue.Dequeue(), ["cancel"] = cancel });
                }
                if (cancel.Count > 0 || time.GetUtcNow() >= deadline)
                {
                    return Answer(HttpStatusCode.OK, new JsonObject { ["job"] = null, ["cancel"] = cancel });
                }
                if (_wake.Task.IsCompleted)
                {
                    _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                woken = _wake.Task;
            }
            var remaining = deadline - time.GetUtcNow();
            await Task.WhenAny(woken, Task.Delay(remaining, time, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private HttpResponseMessage Respond(TimeSpan at, string path, int wait, JsonObject? body, HttpStatusCode status, JsonObject? json)
    {
        lock (_gate)
        {
            Calls.Add(new Call(at, path, wait, body, (int)status));
        }
        var response = new HttpResponseMessage(status);
        if (json is not null)
        {
            response.Content = new StringContent(json.ToJsonString(), Encoding.UTF8, "application/json");
        }
        return response;
    }

    private static JsonObject Error(string code, string message) =>
        new() { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } };
}
