using DeployBot.Agent.Deploy;
using DeployBot.Agent.Protocol;

namespace DeployBot.Agent.Agent;

/// <summary>
/// The deploy log of one job attempt, shipped to <c>POST /v1/jobs/{id}/logs</c> (protocol §4).
/// <see cref="Write"/> numbers each line (<c>seq</c> from 1) and only queues it; <see cref="RunAsync"/>
/// sends what is queued in batches of at most <see cref="MaxBatch"/> lines, <see cref="FlushInterval"/>
/// after the first line of a batch. A line leaves the queue only when a 204 acknowledged it: through an
/// outage the queue grows and is resent (seq makes a resend harmless), so nothing is lost or doubled.
/// A 403, 404 or 409 means the attempt is no longer ours: everything is dropped and <see cref="Lost"/> fires.
/// </summary>
public sealed class JobLogShipper : IDeployLog
{
    public const int MaxBatch = 1000;
    public const int MaxLineChars = 16 * 1024;

    /// <summary>Lines kept per attempt at most; the controller stores no more than 200,000 either.</summary>
    public const int MaxLines = 200_000;

    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(200);

    private readonly IControllerClient _client;
    private readonly Func<AgentCredentials> _credentials;
    private readonly string _jobId;
    private readonly int _attempt;
    private readonly TimeProvider _time;
    private readonly RetryLoop _retry;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly List<LogLine> _pending = [];
    private readonly CancellationTokenSource _lost = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextSeq = 1;
    private bool _completing;
    private bool _dropped;

    public JobLogShipper(IControllerClient client, Func<AgentCredentials> credentials, string jobId, int attempt, TimeProvider time, RetryLoop retry, ILogger logger)
    {
        _client = client;
        _credentials = credentials;
        _jobId = jobId;
        _attempt = attempt;
        _time = time;
        _retry = retry;
        _logger = logger;
    }

    /// <summary>Cancelled when the controller said the attempt is no longer this agent's (403/404/409).</summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>Why the attempt was lost, once <see cref="Lost"/> fired.</summary>
    public string? LostReason { get; private set; }

    /// <summary>Lines written so far (the last seq handed out).</summary>
    public long Written
    {
        get { lock (_gate) { return _nextSeq - 1; } }
    }

    public void Write(string stream, string text)
    {
        _logger.LogDebug("job {JobId} [{Stream}] {Text}", _jobId, stream, text);
        if (text.Length > MaxLineChars)
        {
            text = string.Concat(text.AsSpan(0, MaxLineChars), " …[line cut: longer than 16 KiB]");
        }
        lock (_gate)
        {
            if (_dropped || _nextSeq > MaxLines + 1)
            {
                return;
            }
            if (_nextSeq == MaxLines + 1)
            {
                (stream, text) = (LogStreams.Stderr, "[agent] log limit reached; further lines are not sent");
            }
            _pending.Add(new LogLine(_nextSeq++, _time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'"), stream, text));
            _wake.TrySetResult();
        }
    }

    /// <summary>
    /// Ships lines until <see cref="CompleteAsync"/> was called and everything is acknowledged, the attempt
    /// is lost, or <paramref name="cancellationToken"/> (the agent's hard stop) fires.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (_dropped || (_completing && _pending.Count == 0))
                {
                    return;
                }
                if (_pending.Count > 0)
                {
                    wait = Task.CompletedTask;
                }
                else
                {
                    if (_wake.Task.IsCompleted)
                    {
                        _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    }
                    wait = _wake.Task;
                }
            }
            await wait.WaitAsync(cancellationToken);

            // Let a burst of output gather into one batch, unless the batch is full or the job is ending.
            if (!IsFullOrCompleting())
            {
                await Task.Delay(FlushInterval, _time, cancellationToken);
            }
            await SendPendingAsync(cancellationToken);
        }
    }

    /// <summary>No more lines will be written: <see cref="RunAsync"/> returns once every line is acknowledged (or dropped).</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completing = true;
            _wake.TrySetResult();
        }
    }

    private bool IsFullOrCompleting()
    {
        lock (_gate)
        {
            return _completing || _pending.Count >= MaxBatch;
        }
    }

    private async Task SendPendingAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            LogLine[] batch = [];
            try
            {
                await _retry.RunAsync($"sending log lines of job {_jobId}", async ct =>
                {
                    // Taken afresh on every try: after an outage the resend carries the lines written meanwhile.
                    batch = Snapshot();
                    if (batch.Length > 0)
                    {
                        await _client.SendLogsAsync(_credentials(), _jobId, new LogBatch(_attempt, batch), ct);
                    }
                }, cancellationToken);
            }
            catch (ControllerException ex) when (ex.Fault.LosesJob())
            {
                Drop(ex.Message);
                return;
            }
            catch (ControllerException ex)
            {
                // 400/401/422: this body will not be taken however often it is sent. Drop it, keep the rest.
                _logger.LogError("job {JobId}: the controller refused {Count} log lines ({Error}); they are dropped", _jobId, batch.Length, ex.Message);
            }
            if (batch.Length == 0)
            {
                return;
            }
            Acknowledge(batch[^1].Seq);
        }
    }

    private LogLine[] Snapshot()
    {
        lock (_gate)
        {
            return _pending.Take(MaxBatch).ToArray();
        }
    }

    private void Acknowledge(long lastSeq)
    {
        lock (_gate)
        {
            var count = 0;
            while (count < _pending.Count && _pending[count].Seq <= lastSeq)
            {
                count++;
            }
            _pending.RemoveRange(0, count);
        }
    }

    private void Drop(string reason)
    {
        lock (_gate)
        {
            _dropped = true;
            _pending.Clear();
        }
        LostReason = reason;
        _lost.Cancel();
    }
}
