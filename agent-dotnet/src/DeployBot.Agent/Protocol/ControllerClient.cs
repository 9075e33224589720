using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace DeployBot.Agent.Protocol;

/// <summary>Who this agent is to the controller: its id and bearer token.</summary>
public sealed record AgentCredentials(string AgentId, string Token);

/// <summary>
/// The agent's calls to the controller (docs/agent-protocol.md). Every call either succeeds or throws a
/// <see cref="ControllerException"/> whose <see cref="ControllerFault"/> says what to do; cancelling the
/// caller's token throws <see cref="OperationCanceledException"/> instead. No call retries by itself.
/// </summary>
public interface IControllerClient
{
    Uri BaseAddress { get; }

    Task<Registration> RegisterAsync(string enrollToken, RegisterRequest request, CancellationToken cancellationToken);

    /// <param name="waitSeconds">Long poll: how long the controller may hold the call (0–50).</param>
    Task<HeartbeatResponse> HeartbeatAsync(AgentCredentials agent, string? runningJobId, int waitSeconds, CancellationToken cancellationToken);

    Task ReportStatusAsync(AgentCredentials agent, string jobId, StatusReport report, CancellationToken cancellationToken);

    Task SendLogsAsync(AgentCredentials agent, string jobId, LogBatch batch, CancellationToken cancellationToken);
}

/// <summary><see cref="IControllerClient"/> over an <see cref="HttpClient"/> (a fake handler in tests).</summary>
public sealed class ControllerClient : IControllerClient
{
    /// <summary>How long a call may take beyond the long-poll wait before it counts as unanswered.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    private readonly HttpClient _http;
    private readonly TimeProvider _time;

    /// <param name="http">Its <see cref="HttpClient.Timeout"/> should be infinite: timeouts are per call, on <paramref name="time"/>.</param>
    public ControllerClient(HttpClient http, Uri baseAddress, TimeProvider time)
    {
        _http = http;
        _time = time;
        BaseAddress = baseAddress.AbsoluteUri.EndsWith('/') ? baseAddress : new Uri(baseAddress.AbsoluteUri + "/");
    }

    public Uri BaseAddress { get; }

    public async Task<Registration> RegisterAsync(string enrollToken, RegisterRequest request, CancellationToken cancellationToken)
    {
        var registration = (Registration?)await SendAsync(
            "v1/agents/register", enrollToken, request, ProtocolJson.Default.RegisterRequest,
            ProtocolJson.Default.Registration, CallTimeout, cancellationToken);
        return registration ?? throw new ControllerException(ControllerFault.Busy, 201, "the registration answer was empty");
    }

    public async Task<HeartbeatResponse> HeartbeatAsync(AgentCredentials agent, string? runningJobId, int waitSeconds, CancellationToken cancellationToken)
    {
        var wait = Math.Clamp(waitSeconds, 0, 50);
        var path = $"v1/agents/{Uri.EscapeDataString(agent.AgentId)}/heartbeat?wait={wait}";
        var response = (HeartbeatResponse?)await SendAsync(
            path, agent.Token, new HeartbeatRequest(runningJobId), ProtocolJson.Default.HeartbeatRequest,
            ProtocolJson.Default.HeartbeatResponse, CallTimeout + TimeSpan.FromSeconds(wait), cancellationToken);
        return response ?? HeartbeatResponse.Empty;
    }

    public Task ReportStatusAsync(AgentCredentials agent, string jobId, StatusReport report, CancellationToken cancellationToken) =>
        SendAsync(
            $"v1/jobs/{Uri.EscapeDataString(jobId)}/status", agent.Token, report, ProtocolJson.Default.StatusReport,
            responseType: null, CallTimeout, cancellationToken);

    public Task SendLogsAsync(AgentCredentials agent, string jobId, LogBatch batch, CancellationToken cancellationToken) =>
        SendAsync(
            $"v1/jobs/{Uri.EscapeDataString(jobId)}/logs", agent.Token, batch, ProtocolJson.Default.LogBatch,
            responseType: null, CallTimeout, cancellationToken);

    private async Task<object?> SendAsync<TRequest>(
        string path, string token, TRequest body, JsonTypeInfo<TRequest> requestType,
        JsonTypeInfo? responseType, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var url = new Uri(BaseAddress, path);
        using var deadline = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = JsonContent.Create(body, requestType),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var what = $"POST /{path.Split('?')[0]}";
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, linked.Token);
            var status = (int)response.StatusCode;
            if (ControllerFaults.FromStatus(status) is { } fault)
            {
                var (detail, code) = await ReadErrorAsync(response, linked.Token);
                throw new ControllerException(ControllerFaults.Refine(fault, code), status, $"{what} answered {status}{detail}");
            }
            if (responseType is null || status == 204)
            {
                return null;
            }
            await using var stream = await response.Content.ReadAsStreamAsync(linked.Token);
            return await JsonSerializer.DeserializeAsync(stream, responseType, linked.Token);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException ex)
        {
            throw new ControllerException(ControllerFault.Unreachable, null, $"{what}: no answer within {timeout.TotalSeconds:0}s", ex);
        }
        catch (HttpRequestException ex)
        {
            throw new ControllerException(ControllerFault.Unreachable, null, $"{what}: {ex.InnerException?.Message ?? ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw new ControllerException(ControllerFault.Unreachable, null, $"{what}: {ex.Message}", ex);
        }
        catch (JsonException ex)
        {
            // A proxy's HTML error page, or a half-delivered body: treat it like an overloaded controller.
            throw new ControllerException(ControllerFault.Busy, null, $"{what}: unreadable answer ({ex.Message})", ex);
        }
    }

    /// <summary>What an error answer says, for the message, and its error code when it has the controller's shape.</summary>
    private static async Task<(string Detail, string? Code)> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (text.Length == 0)
            {
                return ("", null);
            }
            try
            {
                var error = JsonSerializer.Deserialize(text, ProtocolJson.Default.ErrorBody)?.Error;
                if (error?.Message is { } message)
                {
                    return ($" ({error.Code}: {message})", error.Code);
                }
            }
            catch (JsonException)
            {
                // not the controller's error shape; show the start of the body
            }
            return ($" ({(text.Length > 200 ? text[..200] + "…" : text)})", null);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return ("", null);
        }
    }
}
