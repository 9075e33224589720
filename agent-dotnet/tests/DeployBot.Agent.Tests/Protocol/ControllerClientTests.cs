using System.Net;
using DeployBot.Agent.Protocol;
using DeployBot.Agent.Tests.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace DeployBot.Agent.Tests.Protocol;

/// <summary>The wire format of each call, and how answers become results or faults.</summary>
public sealed class ControllerClientTests
{
    private readonly StubHandler _handler = new();
    private static readonly AgentCredentials Agent = new("agent-1", "agent-1.secret");

    private ControllerClient Client(string baseUrl = "https://deploybot.test/prefix") =>
        new(new HttpClient(_handler), new Uri(baseUrl), new FakeTimeProvider());

    [Fact]
    public async Task Register_sends_the_enroll_token_and_a_snake_case_body()
    {
        // Arrange
        _handler.Respond = _ => StubHandler.Json(HttpStatusCode.Created, """{"agent_id":"a-1","token":"a-1.s","heartbeat_interval_s":10}""");

        // Act
        var registration = await Client().RegisterAsync("enroll", new RegisterRequest("host-01", "0.1.0", "a-0"), CancellationToken.None);

        // Assert
        Assert.Equal(new Registration("a-1", "a-1.s", 10), registration);
        var (request, body) = Assert.Single(_handler.Requests);
        Assert.Equal("https://deploybot.test/prefix/v1/agents/register", request.RequestUri!.AbsoluteUri);
        Assert.Equal("Bearer enroll", request.Headers.Authorization!.ToString());
        Assert.Equal("""{"hostname":"host-01","version":"0.1.0","previous_agent_id":"a-0"}""", body);
    }

    [Fact]
    public async Task A_heartbeat_long_polls_and_reads_the_assigned_job()
    {
        // Arrange
        _handler.Respond = _ => StubHandler.Json(HttpStatusCode.OK, """
            {"job":{"id":"j-1","app":"web","repo":"acme/web","ref":"refs/heads/main","sha":"abc","host":"host-01","mode":"agent",
                    "status":"running","attempt":2,"agent_id":"agent-1","trigger":"webhook","created_at":"2026-11-27T10:00:00.000Z",
                    "started_at":null,"finished_at":null,"exit_code":null,"error":null,"lease_s":45,
                    "deploy":{"image":"r/web:abc","container":"web","ports":["8080:80"],"env":{"A":"1"},"health":{"url":"http://127.0.0.1:8080/up","timeout":30}}},
             "cancel":["j-0"]}
            """);

        // Act
        var beat = await Client().HeartbeatAsync(Agent, null, 50, CancellationToken.None);

        // Assert
        var (request, body) = Assert.Single(_handler.Requests);
        Assert.Equal("/prefix/v1/agents/agent-1/heartbeat?wait=50", request.RequestUri!.PathAndQuery);
        Assert.Equal("Bearer agent-1.secret", request.Headers.Authorization!.ToString());
        Assert.Equal("{}", body); // running_job_id null is left out
        var job = beat.Job!;
        Assert.Equal(("j-1", 2, 45.0, "r/web:abc", 30.0), (job.Id, job.Attempt, job.LeaseS, job.Deploy.Image, job.Deploy.Health!.Timeout));
        Assert.Equal(["j-0"], beat.Cancel);
    }

    [Fact]
    public async Task Status_and_log_reports_carry_the_attempt()
    {
        // Arrange
        _handler.Respond = r => r.RequestUri!.AbsolutePath.EndsWith("/status")
            ? StubHandler.Json(HttpStatusCode.OK, """{"id":"j-1"}""")
            : new HttpResponseMessage(HttpStatusCode.NoContent);
        var client = Client();

        // Act
        await client.ReportStatusAsync(Agent, "j-1", new StatusReport("failed", 3, "health: no"), CancellationToken.None);
        await client.SendLogsAsync(Agent, "j-1", new LogBatch(3, [new LogLine(1, "2026-11-27T10:00:00.000Z", "stdout", "hi")]), CancellationToken.None);

        // Assert
        Assert.Equal("""{"status":"failed","attempt":3,"error":"health: no"}""", _handler.Requests[0].Body);
        Assert.Equal("""{"attempt":3,"lines":[{"seq":1,"ts":"2026-11-27T10:00:00.000Z","stream":"stdout","text":"hi"}]}""", _handler.Requests[1].Body);
    }

    [Fact]
    public async Task An_error_answer_becomes_a_fault_with_the_controllers_message()
    {
        // Arrange
        _handler.Respond = _ => StubHandler.Json(HttpStatusCode.Conflict, """{"error":{"code":"stale_report","message":"job is queued (attempt 2)"}}""");

        // Act
        var ex = await Assert.ThrowsAsync<ControllerException>(() =>
            Client().ReportStatusAsync(Agent, "j-1", new StatusReport("running", 1), CancellationToken.None));

        // Assert
        Assert.Equal((ControllerFault.Stale, 409), (ex.Fault, ex.Status));
        Assert.Equal("POST /v1/jobs/j-1/status answered 409 (stale_report: job is queued (attempt 2))", ex.Message);
    }

    [Fact]
    public async Task A_refused_connection_is_an_unreachable_controller()
    {
        // Arrange
        _handler.Respond = _ => throw new HttpRequestException("Connection refused (deploybot.test:443)");

        // Act
        var ex = await Assert.ThrowsAsync<ControllerException>(() =>
            Client().HeartbeatAsync(Agent, "j-1", 0, CancellationToken.None));

        // Assert
        Assert.Equal(ControllerFault.Unreachable, ex.Fault);
        Assert.True(ex.IsRetriable);
    }

    [Fact]
    public async Task The_callers_cancellation_is_not_a_fault()
    {
        // Arrange
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        _handler.Respond = _ => throw new TaskCanceledException();

        // Act, Assert
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client().HeartbeatAsync(Agent, null, 50, cancelled.Token));
    }
}
