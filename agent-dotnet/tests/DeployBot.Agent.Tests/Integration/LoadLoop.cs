using System.Diagnostics;
using System.Net.Sockets;

namespace DeployBot.Agent.Tests.Integration;

/// <summary>
/// A steady GET every 10 ms against an address over kept-alive connections, as a user's traffic during a deploy: counts
/// the failures (no answer, or not the app's 2xx page), the requests sent again once because Caddy closed their idle
/// connection under them, and the longest gap between two successes. Bounded: it stops when disposed or after five minutes.
/// </summary>
public sealed class LoadLoop : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromMinutes(5));
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly Task _loop;
    private readonly List<string> _failures = [];
    private TimeSpan _longestGap;
    private int _ok;
    private int _resent;

    public LoadLoop(string url) => _loop = Task.Run(() => RunAsync(url));

    public int Succeeded => Volatile.Read(ref _ok);

    /// <summary>Requests sent again because their kept-alive connection closed before any answer (see RunAsync).</summary>
    public int Resent => Volatile.Read(ref _resent);

    public IReadOnlyList<string> Failures { get { lock (_failures) { return [.. _failures]; } } }

    public TimeSpan LongestGap => _longestGap;

    /// <summary>Waits until the loop has seen <paramref name="count"/> more successes (the app answers through the proxy).</summary>
    public async Task WaitForSuccessesAsync(int count)
    {
        var target = Succeeded + count;
        var deadline = Stopwatch.StartNew();
        while (Succeeded < target)
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(15))
            {
                throw new Xunit.Sdk.XunitException($"the load loop saw no successes; failures: {string.Join("; ", Failures.Take(5))}");
            }
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _loop;
        _http.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync(string url)
    {
        var lastOk = Stopwatch.StartNew();
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var failure = await GetAsync(url);
                if (failure is { Closed: true })
                {
                    // A config change makes Caddy close its idle keep-alive connections; a request sent on one at that
                    // very moment meets a closed connection before any answer. HTTP lets a client send such a request
                    // again (RFC 9112, 9.3.1): browsers, Go and HttpClient itself do, when they see the close in time.
                    // Once, on a new connection, and counted: a second failure is a failure.
                    Interlocked.Increment(ref _resent);
                    failure = await GetAsync(url);
                }
                if (failure is { } failed)
                {
                    Fail(failed.What);
                    continue;
                }
                if (Succeeded > 0 && lastOk.Elapsed > _longestGap)
                {
                    _longestGap = lastOk.Elapsed;
                }
                lastOk.Restart();
                Interlocked.Increment(ref _ok);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            finally
            {
                await PauseAsync();
            }
        }
    }

    /// <summary>One GET: null when the app answered, else what went wrong and whether the connection closed before any answer.</summary>
    private async Task<(string What, bool Closed)?> GetAsync(string url)
    {
        try
        {
            using var response = await _http.GetAsync(url, _stop.Token);
            var body = await response.Content.ReadAsStringAsync(_stop.Token);
            // Caddy answers 200 with an empty body when no route matches: only the app's own page counts.
            return response.IsSuccessStatusCode && body.StartsWith("hello", StringComparison.Ordinal) ? null : ($"HTTP {(int)response.StatusCode} \"{body.Trim()}\"", false);
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.ResponseEnded || ex.InnerException is IOException { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionReset } })
        {
            return (ex.InnerException?.Message ?? ex.Message, true);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_stop.IsCancellationRequested)
        {
            return (ex.InnerException?.Message ?? ex.Message, false);
        }
    }

    private async Task PauseAsync()
    {
        try
        {
            await Task.Delay(10, _stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Fail(string what)
    {
        lock (_failures)
        {
            _failures.Add(what);
        }
    }
}
