using System.Diagnostics;

namespace DeployBot.Agent.Tests.Integration;

/// <summary>
/// A steady GET every 10 ms against an address, as a user's traffic during a deploy: counts the failures (no answer,
/// or not the app's 2xx page) and the longest gap between two successes. Bounded: it stops when disposed or after five minutes.
/// </summary>
public sealed class LoadLoop : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromMinutes(5));
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly Task _loop;
    private readonly List<string> _failures = [];
    private TimeSpan _longestGap;
    private int _ok;

    public LoadLoop(string url) => _loop = Task.Run(() => RunAsync(url));

    public int Succeeded => Volatile.Read(ref _ok);

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
                using var response = await _http.GetAsync(url, _stop.Token);
                var body = await response.Content.ReadAsStringAsync(_stop.Token);
                // Caddy answers 200 with an empty body when no route matches: only the app's own page counts.
                if (response.IsSuccessStatusCode && body.StartsWith("hello", StringComparison.Ordinal))
                {
                    if (Succeeded > 0 && lastOk.Elapsed > _longestGap)
                    {
                        _longestGap = lastOk.Elapsed;
                    }
                    lastOk.Restart();
                    Interlocked.Increment(ref _ok);
                }
                else
                {
                    Fail($"HTTP {(int)response.StatusCode} \"{body.Trim()}\"");
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Fail(ex.InnerException?.Message ?? ex.Message);
            }
            try
            {
                await Task.Delay(10, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
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
