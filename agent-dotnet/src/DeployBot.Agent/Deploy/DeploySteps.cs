using DeployBot.Agent.Docker;

namespace DeployBot.Agent.Deploy;

/// <summary>
/// The pieces both kinds of deploy share (stop-then-start in <see cref="DeployEngine"/>, the cutover in
/// <see cref="Cutover"/>): pull, "is the new container still running", its last output, and the wording of errors.
/// </summary>
internal sealed class DeploySteps(IDockerClient docker, TimeProvider time, DeployEngineOptions options, DeployJob job, IDeployLog log)
{
    public void Say(string text) => log.Write(LogStreams.Stdout, text);

    public void Warn(string text) => log.Write(LogStreams.Stderr, text);

    /// <summary>Always pulls (a tag may have moved); when the registry refuses but the image is here, uses that copy.</summary>
    public async Task PullAsync(CancellationToken cancellationToken)
    {
        var image = job.Deploy.Image;
        Say($"pulling {image}");
        try
        {
            await docker.PullImageAsync(image, job.Registry, line => Say($"pull: {line}"), cancellationToken);
        }
        catch (DockerApiException ex)
        {
            // The engine answered, so it is up; the registry may be down or the tag gone.
            if (await docker.ImageExistsAsync(image, cancellationToken))
            {
                Warn($"pull failed ({ex.EngineMessage}); using the copy of {image} already on this host");
                return;
            }
            throw new DeployFailure($"cannot pull {image}: {ex.EngineMessage}");
        }
    }

    /// <summary>Null while container <paramref name="id"/> runs; otherwise why it does not.</summary>
    public async Task<string?> ExitedAsync(string id, CancellationToken cancellationToken)
    {
        var info = await docker.InspectContainerAsync(id, cancellationToken);
        return info switch
        {
            null => "the new container disappeared",
            { Running: false } => $"the new container stopped (status {info.Status}, exit code {info.ExitCode})",
            _ => null,
        };
    }

    /// <summary>Waits for <paramref name="health"/>, or without one checks that the container stays up for the startup grace.</summary>
    public async Task<string?> CheckHealthAsync(HealthSpec? health, string id, IHealthProbe probe, CancellationToken cancellationToken)
    {
        if (health is not null)
        {
            var waiter = new HealthWaiter(probe, time, options);
            return await waiter.WaitAsync(health, ct => ExitedAsync(id, ct), Say, cancellationToken);
        }
        Say($"no health check configured; checking that the new container stays up for {options.StartupGrace.TotalSeconds:0.#}s");
        await Task.Delay(options.StartupGrace, time, cancellationToken);
        return await ExitedAsync(id, cancellationToken);
    }

    /// <summary>The new container's last lines, so the job log shows why it did not come up.</summary>
    public async Task ShowOutputAsync(string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10), time);
        try
        {
            var lines = await docker.ContainerLogsAsync(id, options.FailureLogLines, timeout.Token);
            foreach (var (stream, text) in lines)
            {
                log.Write(stream, $"container: {text}");
            }
        }
        catch (Exception ex)
        {
            Warn($"could not read the new container's output: {Describe(ex)}");
        }
    }

    public static string Describe(Exception ex) => ex switch
    {
        DockerApiException api => $"{api.EngineMessage} ({api.Request})",
        _ => ex.Message,
    };
}

/// <summary>A failure whose message is already fit for the job log.</summary>
internal sealed class DeployFailure(string message) : Exception(message);
