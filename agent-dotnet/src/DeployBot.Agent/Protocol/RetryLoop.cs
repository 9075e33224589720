using Microsoft.Extensions.Logging;

namespace DeployBot.Agent.Protocol;

/// <summary>
/// Repeats a controller call through network faults, 5xx and 429, the way GitHub's runner polls
/// (Runner.Listener's MessageListener): the decision to retry is explicit (<see cref="ControllerFaults.IsRetriable"/>),
/// the pause is random and growing (<see cref="Backoff"/>), only the first error of a run is logged (the
/// others at debug), the recovery is logged once, and every wait goes through <see cref="TimeProvider"/>.
/// Faults that retrying cannot fix are thrown to the caller; cancellation ends the loop.
/// </summary>
public sealed class RetryLoop(TimeProvider time, ILogger logger, Func<double>? random = null)
{
    private readonly Func<double> _random = random ?? Random.Shared.NextDouble;

    public async Task<T> RunAsync<T>(string what, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        var failures = 0;
        while (true)
        {
            try
            {
                var result = await call(cancellationToken);
                if (failures > 0)
                {
                    logger.LogInformation("{What}: the controller answers again (after {Failures} failed attempts)", what, failures);
                }
                return result;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (ControllerException ex) when (ex.IsRetriable)
            {
                failures++;
                var pause = Backoff.Delay(failures, _random());
                if (failures == 1)
                {
                    logger.LogWarning("{What} failed: {Error}; retrying with backoff (further errors of this run are logged at debug level)", what, ex.Message);
                }
                else
                {
                    logger.LogDebug("{What} failed again ({Failures}): {Error}; next try in {Pause:0.0}s", what, failures, ex.Message, pause.TotalSeconds);
                }
                await Task.Delay(pause, time, cancellationToken);
            }
        }
    }

    public Task RunAsync(string what, Func<CancellationToken, Task> call, CancellationToken cancellationToken) =>
        RunAsync<bool>(what, async ct =>
        {
            await call(ct);
            return true;
        }, cancellationToken);
}
