namespace DeployBot.Agent.Deploy;

/// <summary>One health check attempt: did the URL answer 2xx, and if not, what happened instead.</summary>
public interface IHealthProbe
{
    Task<ProbeResult> ProbeAsync(string url, TimeSpan timeout, CancellationToken cancellationToken);
}

public sealed record ProbeResult(bool Healthy, string Detail);

/// <summary>
/// <see cref="IHealthProbe"/> by HTTP GET. Redirects are not followed (a 3xx is not healthy), so a
/// health URL that points at a login page does not pass by accident.
/// </summary>
public sealed class HttpHealthProbe : IHealthProbe, IDisposable
{
    private readonly HttpClient _http;
    private readonly TimeProvider _time;

    public HttpHealthProbe(TimeProvider time)
    {
        _time = time;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            // A fresh connection per attempt: a container that was just replaced must not be reached
            // over a pooled connection to the old one.
            PooledConnectionLifetime = TimeSpan.Zero,
            UseProxy = false,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public async Task<ProbeResult> ProbeAsync(string url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            using var response = await _http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, linked.Token);
            var code = (int)response.StatusCode;
            return new ProbeResult(code is >= 200 and <= 299, $"HTTP {code}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(false, $"no answer within {timeout.TotalSeconds:0.#}s");
        }
        catch (HttpRequestException ex)
        {
            return new ProbeResult(false, ex.InnerException?.Message ?? ex.Message);
        }
    }

    public void Dispose() => _http.Dispose();
}
