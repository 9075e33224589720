using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace DeployBot.Agent.Proxy;

/// <summary>The calls a cutover makes to Caddy's admin API. Each throws <see cref="ProxyUnavailableException"/>
/// when nothing answers at the admin address, and <see cref="ProxyRefusedException"/> when Caddy says no.</summary>
public interface IProxyAdmin
{
    /// <summary>The running config; null when Caddy runs with an empty one.</summary>
    Task<JsonNode?> GetConfigAsync(string admin, CancellationToken cancellationToken);

    /// <summary>Replaces the running config. Caddy applies it whole or not at all, and lets requests in flight finish.</summary>
    Task LoadAsync(string admin, JsonObject config, CancellationToken cancellationToken);

    /// <summary>Requests in flight to <paramref name="dial"/>; 0 once Caddy no longer knows that upstream.</summary>
    Task<int> InFlightAsync(string admin, string dial, CancellationToken cancellationToken);
}

public sealed class ProxyUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

public sealed class ProxyRefusedException(string message) : Exception(message);

/// <summary><see cref="IProxyAdmin"/> over HTTP; <c>admin</c> is <c>host:port</c> on loopback (apps.yaml's <c>proxy.admin</c>).</summary>
public sealed class CaddyAdmin : IProxyAdmin, IDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(5) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public async Task<JsonNode?> GetConfigAsync(string admin, CancellationToken cancellationToken)
    {
        var text = await SendAsync(admin, HttpMethod.Get, "/config/", null, cancellationToken);
        return JsonNode.Parse(text.Length == 0 ? "null" : text);
    }

    public Task LoadAsync(string admin, JsonObject config, CancellationToken cancellationToken) =>
        SendAsync(admin, HttpMethod.Post, "/load", config.ToJsonString(), cancellationToken);

    public async Task<int> InFlightAsync(string admin, string dial, CancellationToken cancellationToken)
    {
        var text = await SendAsync(admin, HttpMethod.Get, "/reverse_proxy/upstreams", null, cancellationToken);
        var list = JsonNode.Parse(text.Length == 0 ? "[]" : text) as JsonArray ?? [];
        return list.Where(u => u?["address"]?.GetValue<string>() == dial)
            .Select(u => u?["num_requests"]?.GetValue<int>() ?? 0)
            .Sum();
    }

    public void Dispose() => _http.Dispose();

    private async Task<string> SendAsync(string admin, HttpMethod method, string path, string? json, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(method, $"http://{admin}{path}");
        if (json is not null)
        {
            message.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(CallTimeout);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(message, deadline.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var reason = ex is OperationCanceledException ? $"no answer within {CallTimeout.TotalSeconds:0}s"
                : ex.InnerException is SocketException socket ? socket.Message : ex.Message;
            throw new ProxyUnavailableException(
                $"no proxy answers at {admin} (Caddy's admin API): {reason}; install and start it as the README's \"Zero-downtime deploys\" says", ex);
        }
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var error = TryError(body) ?? body.Trim();
                throw new ProxyRefusedException($"Caddy at {admin} refused {method} {path} (HTTP {(int)response.StatusCode}): {error}");
            }
            return body;
        }
    }

    private static string? TryError(string body)
    {
        try
        {
            return JsonNode.Parse(body)?["error"]?.GetValue<string>();
        }
        catch (Exception)
        {
            return null;
        }
    }
}
