using System.Text.Json.Nodes;
using DeployBot.Agent.Docker;
using DeployBot.Agent.Proxy;

namespace DeployBot.Agent.Deploy;

/// <summary>
/// A zero-downtime deploy of an app with a <c>proxy:</c> block (docs/deploy-steps.md):
/// validate → pull → proxy (Caddy answers; leftovers of an interrupted cutover repaired) → start the new release
/// beside the old one as <c>&lt;container&gt;-next-&lt;job&gt;</c>, its app port published on a loopback port chosen here
/// (<see cref="LoopbackPort"/>: the engine keeps an explicit binding across restarts) → health on that port → switch the proxy's route to it → drain the old release → remove it and give the new
/// container the app's name. Before the switch the old release is never touched: a failure or a cancel removes the
/// new container and nothing else. From the switch on the deploy has succeeded: a cancel is ignored, and a failed
/// drain or clean-up is a warning. Lives for one deploy.
/// </summary>
internal sealed class Cutover(
    IDockerClient docker, IHealthProbe probe, IProxyAdmin proxy, TimeProvider time, DeployEngineOptions options, DeployJob job, IDeployLog log)
{
    private readonly DeploySteps _steps = new(docker, time, options, job, log);
    private readonly string _name = job.Deploy.Container;
    private readonly ProxySpec _proxy = job.Deploy.Proxy!;
    private readonly long _started = time.GetTimestamp();
    private DeployStep _step = DeployStep.Validate;
    private string? _newId;
    private string? _previousUpstream;

    /// <summary>The name the new release starts under, beside the live one.</summary>
    public static string NextName(string container, string jobId) => $"{NextPrefix(container)}{DeployEngine.Safe(jobId)}";

    public static string NextPrefix(string container) => $"{container}-next-";

    /// <summary>The Engine API's key of the app port inside the container: <c>3000/tcp</c>.</summary>
    public static string PortKey(ProxySpec proxy) => $"{proxy.AppPort}/tcp";

    public async Task<DeployResult> RunAsync(CancellationToken cancellationToken)
    {
        Say($"deploying {job.App} at {DeployEngine.Short(job.Sha)} (job {job.JobId}): image {job.Deploy.Image}, cutover behind the proxy on {_proxy.Listen}{(_proxy.Host is null ? "" : $" for Host {_proxy.Host}")}");
        JsonObject body;
        try
        {
            body = Validate();
        }
        catch (FormatException ex)
        {
            return Fail(DeployOutcome.Failed, ex.Message);
        }

        string upstream;
        try
        {
            _step = DeployStep.Pull;
            await _steps.PullAsync(cancellationToken);

            _step = DeployStep.Proxy;
            var repair = new CutoverRepair(docker, proxy, log);
            await repair.RepairAsync(_name, _proxy, cancellationToken);
            var config = await proxy.GetConfigAsync(_proxy.Admin, cancellationToken);
            // A conflict (two apps catching the same Host) is found now, before anything starts.
            CaddyConfig.WithRoute(config, Route("127.0.0.1:1"));
            Say($"proxy: Caddy answers at {_proxy.Admin}; {_name} is served from {CaddyConfig.Upstream(config, CaddyConfig.RouteId(_name)) ?? "nowhere yet (first cutover)"}");
            if (MigrateReqProblem() is { } problem)
            {
                Warn($"warning: {problem}");
            }

            _step = DeployStep.Start;
            var next = NextName(_name, job.JobId);
            upstream = await StartAsync(next, body, cancellationToken);
            var newId = _newId!;
            Say($"new container started: {next} ({DeployEngine.Short(newId)}), port {_proxy.AppPort} on {upstream}, after {Elapsed()}");

            _step = DeployStep.Health;
            var healthStarted = time.GetTimestamp();
            var health = job.Deploy.Health is { } h ? h with { Url = $"http://{upstream}{h.Path ?? "/"}" } : null;
            if (await _steps.CheckHealthAsync(health, newId, probe, cancellationToken) is { } unhealthy)
            {
                Warn($"health check failed: {unhealthy}");
                await _steps.ShowOutputAsync(newId);
                return await AbandonAsync(DeployOutcome.Failed, unhealthy);
            }
            Say($"healthy after {time.GetElapsedTime(healthStarted).TotalSeconds:0.0}s");

            _step = DeployStep.Switch;
            cancellationToken.ThrowIfCancellationRequested();
            var fresh = await proxy.GetConfigAsync(_proxy.Admin, cancellationToken);
            await proxy.LoadAsync(_proxy.Admin, CaddyConfig.WithRoute(fresh, Route(upstream)), CancellationToken.None);
            Say($"traffic switched to {next} ({upstream}) after {Elapsed()}");
            _previousUpstream = CaddyConfig.Upstream(fresh, CaddyConfig.RouteId(_name));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Warn($"cancelled during {DeployResult.StepName(_step)}");
            return await AbandonAsync(DeployOutcome.Cancelled, "the job was cancelled");
        }
        catch (Exception ex)
        {
            // The job boundary: whatever went wrong is reported on the job, never thrown past it.
            var reason = DeploySteps.Describe(ex);
            Warn($"{DeployResult.StepName(_step)} failed: {reason}");
            return await AbandonAsync(DeployOutcome.Failed, reason);
        }

        await RetireOldAsync(upstream);
        Say($"deployed {job.Deploy.Image} as {_name} ({DeployEngine.Short(_newId!)}) in {Elapsed()}");
        return new DeployResult(DeployOutcome.Succeeded, _step, null, _newId);
    }

    /// <summary>Creates and starts the new release with its app port on a free loopback port; when the engine refuses
    /// the port (taken since it was chosen), removes the container and tries another, three times in all. Returns
    /// <c>127.0.0.1:PORT</c>.</summary>
    private async Task<string> StartAsync(string next, JsonObject body, CancellationToken cancellationToken)
    {
        var tried = new HashSet<int>();
        while (true)
        {
            var port = LoopbackPort.Free(tried);
            tried.Add(port);
            ((JsonObject)body["HostConfig"]!)["PortBindings"] = new JsonObject
            {
                [PortKey(_proxy)] = new JsonArray(new JsonObject { ["HostIp"] = "127.0.0.1", ["HostPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) }),
            };
            _newId = await docker.CreateContainerAsync(next, body.DeepClone().AsObject(), cancellationToken);
            try
            {
                await docker.StartContainerAsync(_newId, cancellationToken);
                return $"127.0.0.1:{port}";
            }
            catch (Exception ex) when (LoopbackPort.IsConflict(ex) && tried.Count < 3)
            {
                Warn($"port {port} on 127.0.0.1 was taken ({((DockerApiException)ex).EngineMessage}); trying another");
                await docker.RemoveContainerAsync(_newId, cancellationToken);
                _newId = null;
            }
        }
    }

    /// <summary>Drain, then stop and remove the old release, then give the new one the app's name. Past the
    /// switch: ignores the job's cancellation, bounded by the drain and <see cref="DeployEngineOptions.RollbackTimeout"/>.</summary>
    private async Task RetireOldAsync(string upstream)
    {
        _step = DeployStep.Drain;
        using var bound = new CancellationTokenSource(options.RollbackTimeout + TimeSpan.FromSeconds(_proxy.Drain), time);
        try
        {
            var old = await docker.InspectContainerAsync(_name, bound.Token);
            if (_previousUpstream is { } dial && dial != upstream)
            {
                var draining = time.GetTimestamp();
                Say($"old release draining: waiting up to {_proxy.Drain:0.#}s for the requests in flight to {dial}");
                var left = await DrainAsync(dial, bound.Token);
                Say(left == 0
                    ? $"old release drained after {time.GetElapsedTime(draining).TotalSeconds:0.0}s"
                    : $"drain time of {_proxy.Drain:0.#}s is up with {left} requests still in flight to {dial}");
            }

            _step = DeployStep.RemovePrevious;
            if (old is not null && old.Id != _newId)
            {
                if (old.Running)
                {
                    await docker.StopContainerAsync(old.Id, options.StopGrace, bound.Token);
                }
                await docker.RemoveContainerAsync(old.Id, bound.Token);
                Say($"removed the old release {DeployEngine.Short(old.Id)} (image {old.Image} kept for rollbacks)");
            }
            await docker.RenameContainerAsync(_newId!, _name, bound.Token);
            Say($"{NextName(_name, job.JobId)} is now {_name}");
        }
        catch (Exception ex)
        {
            Warn($"{DeployResult.StepName(_step)} after the switch failed: {DeploySteps.Describe(ex)}; the new release serves, and the next deploy or agent start tidies up");
        }
    }

    /// <summary>Polls Caddy until no request to <paramref name="dial"/> is in flight or the drain time is up; returns those left.</summary>
    private async Task<int> DrainAsync(string dial, CancellationToken cancellationToken)
    {
        var deadline = time.GetTimestamp();
        var drain = TimeSpan.FromSeconds(_proxy.Drain);
        while (true)
        {
            var left = await proxy.InFlightAsync(_proxy.Admin, dial, cancellationToken);
            if (left == 0 || time.GetElapsedTime(deadline) >= drain)
            {
                return left;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken);
        }
    }

    /// <summary>Before the switch: removes the new container, if any; the old release was never touched.</summary>
    private async Task<DeployResult> AbandonAsync(DeployOutcome outcome, string reason)
    {
        if (_step < DeployStep.Start)
        {
            Say("nothing on this host was changed");
            return Fail(outcome, reason, keptServing: _step >= DeployStep.Proxy);
        }
        using var timeout = new CancellationTokenSource(options.RollbackTimeout, time);
        try
        {
            // By name, not only by id: a create that was cancelled may still have been carried out.
            var next = NextName(_name, job.JobId);
            var removed = _newId is not null && await docker.RemoveContainerAsync(_newId, timeout.Token);
            removed |= await docker.RemoveContainerAsync(next, timeout.Token);
            if (removed)
            {
                Say($"removed the new container {next}; the old release was not touched");
            }
            return Fail(outcome, reason, keptServing: true);
        }
        catch (Exception ex)
        {
            var error = ex is OperationCanceledException ? $"did not finish within {options.RollbackTimeout.TotalSeconds:0}s" : DeploySteps.Describe(ex);
            Warn($"removing the new container failed: {error}");
            var failed = new DeployResult(outcome, _step, reason, null, RollbackError: error);
            Warn(failed.Summary!);
            return failed;
        }
    }

    private JsonObject Validate()
    {
        DeployEngine.ValidateName(_name);
        if (_proxy.AppPort is < 1 or > 65535)
        {
            throw new FormatException($"proxy.app_port must be a port number from 1 to 65535, not {_proxy.AppPort}");
        }
        if (!(_proxy.Drain >= 0))
        {
            throw new FormatException($"proxy.drain must not be negative, not {_proxy.Drain}");
        }
        if (job.Deploy.Health is { } health && (health.Path is not { } path || !path.StartsWith('/') || !(health.Timeout > 0)))
        {
            throw new FormatException("behind the proxy, health needs a path starting with '/' and a positive timeout");
        }
        var body = ContainerCreateBody.Build(job with { Deploy = job.Deploy with { Ports = [] } });
        // The binding (loopback only: the proxy is the public face) is added at the start, with the port chosen then.
        body["ExposedPorts"] = new JsonObject { [PortKey(_proxy)] = new JsonObject() };
        return body;
    }

    /// <summary>
    /// Caddy opens a new SO_REUSEPORT socket at every config load and closes the old one; unless the kernel migrates
    /// the connections queued on the old socket (<c>net.ipv4.tcp_migrate_req=1</c>, Linux 5.14+), it resets them.
    /// </summary>
    private static string? MigrateReqProblem()
    {
        const string path = "/proc/sys/net/ipv4/tcp_migrate_req";
        var value = File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        return value == "1" ? null
            : $"net.ipv4.tcp_migrate_req is {value ?? "missing (Linux 5.14+ has it)"} on this host: the switch may reset a few connections; set it to 1 (README, \"Zero-downtime deploys\")";
    }

    private ProxyRoute Route(string upstream) => new(_proxy.Listen, _proxy.Host, _name, upstream);

    private DeployResult Fail(DeployOutcome outcome, string reason, bool keptServing = false)
    {
        var result = new DeployResult(outcome, _step, reason, null, KeptServing: keptServing);
        Warn(result.Summary!);
        return result;
    }

    private string Elapsed() => $"{time.GetElapsedTime(_started).TotalSeconds:0.0}s";

    private void Say(string text) => _steps.Say(text);

    private void Warn(string text) => _steps.Warn(text);
}
