using System.Text.Json.Nodes;
using DeployBot.Agent.Docker;
using DeployBot.Agent.Proxy;

namespace DeployBot.Agent.Deploy;

/// <summary>Carries out one deployment on this host's Docker engine.</summary>
public interface IDeployEngine
{
    /// <summary>
    /// Deploys <paramref name="job"/>. Never throws for a failed deploy: the result says what happened.
    /// Cancelling <paramref name="cancellationToken"/> stops the deploy at the step it is in and puts
    /// the previous container back.
    /// </summary>
    Task<DeployResult> DeployAsync(DeployJob job, IDeployLog log, CancellationToken cancellationToken);
}

/// <summary>
/// The deploy state machine: pull → rename and stop the current container → create and start the new
/// one → wait for health → remove the old one. Any failure or cancellation after the current container
/// was touched removes the new container and puts the old one back under its name, running if it ran.
///
/// Image policy: the image is always pulled (a tag may have moved), but when the pull fails with an
/// answer from the engine or registry and the image is already on this host, the local copy is used.
/// Images are never deleted, so a rollback deploy to the previous release works with the registry down.
///
/// Assumes one deploy per container name at a time: the controller runs one job per host.
/// </summary>
public sealed class DeployEngine(IDockerClient docker, IHealthProbe probe, TimeProvider time, DeployEngineOptions options, IProxyAdmin? proxy = null)
    : IDeployEngine
{
    private readonly IDockerClient _docker = docker;
    private readonly IHealthProbe _probe = probe;
    private readonly TimeProvider _time = time;
    private readonly DeployEngineOptions _options = options;
    private readonly IProxyAdmin _proxy = proxy ?? new CaddyAdmin();

    /// <summary>An app with a <c>proxy:</c> block gets a cutover (<see cref="Cutover"/>); one with <c>ports:</c> stop-then-start.</summary>
    public Task<DeployResult> DeployAsync(DeployJob job, IDeployLog log, CancellationToken cancellationToken) =>
        job.Deploy.Proxy is null
            ? new Attempt(this, job, log).RunAsync(cancellationToken)
            : new Cutover(_docker, _probe, _proxy, _time, _options, job, log).RunAsync(cancellationToken);

    /// <summary>The first 12 characters of a container id or sha, as docker shows them.</summary>
    public static string Short(string idOrSha) => idOrSha.Length > 12 ? idOrSha[..12] : idOrSha;

    /// <summary>Name the current container is parked under while its successor starts.</summary>
    public static string PreviousName(string container, string jobId) => $"{container}-previous-{Safe(jobId)}";

    /// <summary>A job id fit for a container name: anything but letters, digits, '_', '.' and '-' becomes '-'.</summary>
    public static string Safe(string jobId) =>
        new(jobId.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-' ? c : '-').ToArray());

    /// <exception cref="FormatException">Not a valid Docker container name.</exception>
    public static void ValidateName(string name)
    {
        if (string.IsNullOrEmpty(name) || !char.IsAsciiLetterOrDigit(name[0])
            || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
        {
            throw new FormatException($"container \"{name}\" is not a valid Docker container name");
        }
    }

    /// <summary>The state of one deploy; lives for one <see cref="DeployAsync"/> call.</summary>
    private sealed class Attempt(DeployEngine engine, DeployJob job, IDeployLog log)
    {
        private readonly IDockerClient _docker = engine._docker;
        private readonly DeploySteps _steps = new(engine._docker, engine._time, engine._options, job, log);
        private readonly string _name = job.Deploy.Container;
        private DeployStep _step = DeployStep.Validate;
        private ContainerInfo? _previous;
        private string? _newId;

        public async Task<DeployResult> RunAsync(CancellationToken cancellationToken)
        {
            var spec = job.Deploy;
            Say($"deploying {job.App} at {Short(job.Sha)} (job {job.JobId}): image {spec.Image}, container {_name}");

            JsonObject body;
            try
            {
                body = Validate();
            }
            catch (FormatException ex)
            {
                return Finish(DeployOutcome.Failed, ex.Message, restored: false, rollbackError: null);
            }

            try
            {
                _step = DeployStep.Pull;
                await _steps.PullAsync(cancellationToken);

                _step = DeployStep.StopPrevious;
                await StopPreviousAsync(cancellationToken);

                _step = DeployStep.Create;
                _newId = await _docker.CreateContainerAsync(_name, body, cancellationToken);
                Say($"created container {_name} ({Short(_newId)})");

                _step = DeployStep.Start;
                await _docker.StartContainerAsync(_newId, cancellationToken);
                Say($"started container {_name}");

                _step = DeployStep.Health;
                if (await _steps.CheckHealthAsync(job.Deploy.Health, _newId, engine._probe, cancellationToken) is { } unhealthy)
                {
                    Warn($"health check failed: {unhealthy}");
                    await _steps.ShowOutputAsync(_newId);
                    return await RollBackAsync(DeployOutcome.Failed, unhealthy);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Warn($"cancelled during {DeployResult.StepName(_step)}");
                return await RollBackAsync(DeployOutcome.Cancelled, "the job was cancelled");
            }
            catch (Exception ex)
            {
                // The job boundary: whatever went wrong is reported on the job, never thrown past it.
                var reason = Describe(ex);
                Warn($"{DeployResult.StepName(_step)} failed: {reason}");
                return await RollBackAsync(DeployOutcome.Failed, reason);
            }

            // Past the health check the new release serves traffic: the deploy has succeeded, so
            // cleaning up ignores cancellation and a cleanup failure is only a warning.
            _step = DeployStep.RemovePrevious;
            if (_previous is not null)
            {
                using var cleanup = new CancellationTokenSource(engine._options.RollbackTimeout, engine._time);
                try
                {
                    await _docker.RemoveContainerAsync(_previous.Id, cleanup.Token);
                    Say($"removed previous container {Short(_previous.Id)} (image {_previous.Image} kept)");
                }
                catch (Exception ex)
                {
                    Warn($"could not remove previous container {Short(_previous.Id)}: {Describe(ex)}; remove it by hand");
                }
            }
            Say($"deployed {spec.Image} as {_name} ({Short(_newId!)})");
            return new DeployResult(DeployOutcome.Succeeded, _step, null, _newId);
        }

        private JsonObject Validate()
        {
            var spec = job.Deploy;
            ValidateName(_name);
            if (spec.Health is { } health)
            {
                if (!Uri.TryCreate(health.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                {
                    throw new FormatException($"health.url \"{health.Url}\" is not an http(s) URL");
                }
                if (!(health.Timeout > 0))
                {
                    throw new FormatException($"health.timeout must be positive, not {health.Timeout}");
                }
            }
            return ContainerCreateBody.Build(job);
        }

        private async Task StopPreviousAsync(CancellationToken cancellationToken)
        {
            _previous = await _docker.InspectContainerAsync(_name, cancellationToken);
            if (_previous is null)
            {
                Say($"no container named {_name} yet: first deploy");
                return;
            }
            var parked = PreviousName(_name, job.JobId);
            Say($"renaming current {_name} ({Short(_previous.Id)}, image {_previous.Image}, {_previous.Status}) to {parked}");
            await _docker.RenameContainerAsync(_previous.Id, parked, cancellationToken);
            if (_previous.Running)
            {
                Say($"stopping {parked}");
                await _docker.StopContainerAsync(_previous.Id, engine._options.StopGrace, cancellationToken);
            }
        }

        /// <summary>
        /// Puts things back as they were, judged from the engine's current state rather than from which
        /// calls returned: a cancelled call may still have been carried out. Ignores the job's
        /// cancellation; bounded by <see cref="DeployEngineOptions.RollbackTimeout"/>.
        /// </summary>
        private async Task<DeployResult> RollBackAsync(DeployOutcome outcome, string reason)
        {
            if (_step < DeployStep.StopPrevious)
            {
                Say("nothing on this host was changed");
                return Finish(outcome, reason, restored: false, rollbackError: null);
            }

            Say(_previous is null ? "rolling back: removing the new container" : $"rolling back to {Short(_previous.Id)}");
            using var timeout = new CancellationTokenSource(engine._options.RollbackTimeout, engine._time);
            var token = timeout.Token;
            try
            {
                // Whatever holds the name now and carries this job's label is the new container. The
                // label, not "anything but the previous one", decides: if the inspect of the current
                // container was cancelled, _previous is unknown and the holder is the live release.
                var holder = await _docker.InspectContainerAsync(_name, token);
                if (holder is not null && holder.Id != _previous?.Id
                    && holder.Labels.GetValueOrDefault(ContainerCreateBody.JobLabel) == job.JobId)
                {
                    await _docker.RemoveContainerAsync(holder.Id, token);
                    Say($"removed new container {Short(holder.Id)}");
                }
                if (_newId is not null && _newId != holder?.Id && _newId != _previous?.Id
                    && await _docker.RemoveContainerAsync(_newId, token))
                {
                    Say($"removed new container {Short(_newId)}");
                }
                if (_previous is null)
                {
                    return Finish(outcome, reason, restored: false, rollbackError: null);
                }

                var now = await _docker.InspectContainerAsync(_previous.Id, token);
                if (now is null)
                {
                    throw new DeployFailure($"the previous container {Short(_previous.Id)} no longer exists");
                }
                if (now.Name != _name)
                {
                    await _docker.RenameContainerAsync(_previous.Id, _name, token);
                }
                if (_previous.Running && !now.Running)
                {
                    await _docker.StartContainerAsync(_previous.Id, token);
                }
                Say($"previous container {_name} ({Short(_previous.Id)}, image {_previous.Image}) is back{(_previous.Running ? " and running" : "")}");
                return Finish(outcome, reason, restored: true, rollbackError: null);
            }
            catch (Exception ex)
            {
                var error = ex is OperationCanceledException ? $"did not finish within {engine._options.RollbackTimeout.TotalSeconds:0}s" : Describe(ex);
                Warn($"rollback failed: {error}");
                return Finish(outcome, reason, restored: false, rollbackError: error);
            }
        }

        private DeployResult Finish(DeployOutcome outcome, string reason, bool restored, string? rollbackError)
        {
            var result = new DeployResult(outcome, _step, reason, null, restored, rollbackError);
            Warn(result.Summary!);
            return result;
        }

        private void Say(string text) => _steps.Say(text);

        private void Warn(string text) => _steps.Warn(text);

        private static string Describe(Exception ex) => DeploySteps.Describe(ex);
    }
}
