import { setTimeout as sleep } from "node:timers/promises";
import { routeId, upstreamOf, withRoute, type ProxyRoute } from "./caddy.ts";
import { caddyAdmin, dockerListReleases, dockerRemove, dockerRename, dockerRun, dockerStop, LABEL_APP, LABEL_JOB, LABEL_SHA, nextPrefix, readMigrateReq, readPortTable, safeJobId } from "./commands.ts";
import type { DeployOptions, DeployResult, DeployStep } from "./deploy-contract.ts";
import { parsePortTable, pickLoopbackPort, portConflict, type PortTable } from "./loopback-port.ts";
import type { ProxySpec } from "./request.ts";
import { bounded, deploySteps, isCancel, lastLine } from "./steps.ts";

export interface CutoverOptions extends Required<Omit<DeployOptions, "request">> {
  request: DeployOptions["request"];
  proxy: ProxySpec;
}

/**
 * A zero-downtime deploy over SSH, the .NET agent's Cutover step for step
 * (docs/deploy-steps.md): pull → proxy (Caddy's admin API answers through
 * curl on the target; leftovers of an interrupted cutover repaired) → start
 * `<container>-next-<job>` beside the live release, its app port published on
 * a loopback port chosen here (loopback-port.ts: Docker keeps an explicit
 * binding across restarts) → health on that port → switch the route → drain
 * the old release → remove it and rename the new one. Before the switch the
 * old release is never touched; from the switch on the deploy has succeeded
 * and a cancel is ignored. Never throws for a failed deploy.
 *
 * Every command is a round trip over SSH plus the docker CLI's start-up (0.1–
 * 0.3 s each on a busy host), so the reads a step needs are made at once, on
 * parallel channels of the one pooled connection, and nothing is read twice.
 */
export async function runCutover(options: CutoverOptions): Promise<DeployResult> {
  const { run, request, proxy, log, signal, pollIntervalMs, pullTimeoutMs, rollbackTimeoutMs, settleMs, stopGraceS } = options;
  const { jobId, deploy } = request;
  const name = deploy.container;
  const next = `${nextPrefix(name)}${safeJobId(jobId)}`;
  const { checkpoint, must, pull, waitHealthy, showOutput } = deploySteps({ run, log, signal, pollIntervalMs, pullTimeoutMs });
  const started = Date.now();
  const elapsed = (since = started) => `${((Date.now() - since) / 1000).toFixed(1)}s`;
  const route = (upstream: string): ProxyRoute => ({ listen: proxy.listen, host: proxy.host, container: name, upstream });
  let step: DeployStep = "pull";
  let created = false;
  let upstream = "";
  let previous: string | null = null;

  /** One admin API call through curl on the target; the errors say whether Caddy is missing or said no. */
  const admin = async (method: "GET" | "POST", path: "/config/" | "/load" | "/reverse_proxy/upstreams", body?: unknown): Promise<unknown> => {
    const result = await run(caddyAdmin(proxy.admin, method, path), body === undefined ? {} : { stdin: JSON.stringify(body) });
    if (result.exitCode === 0) return JSON.parse(result.stdout.trim() || "null") as unknown;
    if (result.exitCode === 127) throw new Error("the proxy step needs curl on the target to reach Caddy's admin API");
    if (result.exitCode === 22) {
      const said = (() => { try { return String((JSON.parse(result.stdout) as { error?: unknown }).error ?? result.stdout.trim()); } catch { return result.stdout.trim(); } })();
      throw new Error(`Caddy at ${proxy.admin} refused ${method} ${path}: ${said}`);
    }
    throw new Error(`no proxy answers at ${proxy.admin} (Caddy's admin API): ${lastLine(result.stderr) || `curl exit ${result.exitCode}`}; install and start it as the README's "Zero-downtime deploys" says`);
  };
  /** The live release and the `-next-` ones, each with where it publishes the app port on loopback (null when stopped). */
  const releases = async (): Promise<Release[]> =>
    (await must(dockerListReleases(name), `looking for the releases of ${name}`)).stdout.split("\n").map((row) => parseRelease(row, proxy.appPort)).filter((r): r is Release => r !== null);

  log("system", `deploying ${request.app} (job ${jobId}): image ${deploy.image}, cutover behind the proxy on ${proxy.listen}${proxy.host ? ` for Host ${proxy.host}` : ""}`);
  try {
    await pull(deploy.image);

    step = "proxy";
    checkpoint();
    const [found, read, ports, migrate] = await Promise.all([releases(), admin("GET", "/config/"), run(readPortTable()), run(readMigrateReq())]);
    const table = parsePortTable(ports.stdout); // the tcp6 table may be missing (exit 1): the range and tcp are enough
    const config = await repair(found, read);
    withRoute(config, route("127.0.0.1:1")); // a conflict with another app is found now, before anything starts
    log("system", `proxy: Caddy answers at ${proxy.admin}; ${name} is served from ${upstreamOf(config, routeId(name)) ?? "nowhere yet (first cutover)"}`);
    if (migrate.stdout.trim() !== "1") log("stderr", `warning: net.ipv4.tcp_migrate_req is ${migrate.stdout.trim() || "missing (Linux 5.14+ has it)"} on the target: the switch may reset a few connections; set it to 1 (README, "Zero-downtime deploys")`);

    step = "start";
    checkpoint();
    created = true;
    upstream = await start(table);
    log("stdout", `new container started: ${next}, port ${proxy.appPort} on ${upstream}, after ${elapsed()}`);

    step = "health";
    checkpoint();
    const healthStarted = Date.now();
    try {
      await waitHealthy(next, deploy.health ? { url: `http://${upstream}${deploy.health.path ?? "/"}`, timeoutMs: deploy.health.timeoutMs } : null, settleMs);
    } catch (err) {
      if (!isCancel(err)) await showOutput(next);
      throw err;
    }
    log("stdout", `healthy after ${elapsed(healthStarted)}`);

    step = "switch";
    checkpoint();
    const fresh = await admin("GET", "/config/");
    previous = upstreamOf(fresh, routeId(name));
    await admin("POST", "/load", withRoute(fresh, route(upstream)));
    log("stdout", `traffic switched to ${next} (${upstream}) after ${elapsed()}`);
  } catch (err) {
    const cancelled = isCancel(err);
    const reason = cancelled ? "cancelled" : (err as Error).message;
    log(cancelled ? "system" : "stderr", cancelled ? `cancelled during ${step}` : `${step} failed: ${reason}`);
    const status = cancelled ? "cancelled" : "failed";
    const keptServing = step !== "pull";
    if (!created) return { status, step, error: cancelled ? null : reason, rolled_back: false, kept_serving: keptServing };
    const problem = await bounded((async () => {
      await must(dockerRemove(next), `removing ${next}`);
      log("system", `removed the new container ${next}; the old release was not touched`);
      return null;
    })(), rollbackTimeoutMs, `removing ${next} did not finish within ${rollbackTimeoutMs / 1000} s`);
    if (problem) return { status, step, error: cancelled ? null : reason, rolled_back: false, rollback_error: problem };
    return { status, step, error: cancelled ? null : reason, rolled_back: false, kept_serving: true };
  }

  // From here the new release serves: the deploy has succeeded; a failure is a warning.
  step = "drain";
  const retired = await bounded((async () => {
    if (previous && previous !== upstream) {
      const since = Date.now();
      log("stdout", `old release draining: waiting up to ${proxy.drainMs / 1000}s for the requests in flight to ${previous}`);
      let left = await inFlight(previous);
      while (left > 0 && Date.now() - since < proxy.drainMs) {
        await sleep(pollIntervalMs);
        left = await inFlight(previous);
      }
      log("stdout", left === 0 ? `old release drained after ${elapsed(since)}` : `drain time is up with ${left} requests still in flight to ${previous}`);
    }
    step = "remove-previous";
    if ((await releases()).some((r) => r.name === name)) {
      await must(dockerStop(name, stopGraceS), `stopping the old ${name}`, { timeoutMs: (stopGraceS + 60) * 1000 });
      await must(dockerRemove(name), `removing the old ${name}`);
      log("stdout", `removed the old release ${name} (its image is kept for rollbacks)`);
    }
    await must(dockerRename(next, name), `renaming ${next} to ${name}`);
    log("stdout", `${next} is now ${name}`);
    return null;
  })(), rollbackTimeoutMs + proxy.drainMs, "did not finish in time");
  if (retired) log("stderr", `warning: ${step} after the switch failed: ${retired}; the new release serves, and the next deploy tidies up`);
  log("system", `deployed ${deploy.image} as ${name} in ${elapsed()}`);
  return { status: "succeeded", step: "remove-previous", error: null, rolled_back: false };

  async function inFlight(dial: string): Promise<number> {
    const list = await admin("GET", "/reverse_proxy/upstreams");
    return (Array.isArray(list) ? (list as Array<{ address?: unknown; num_requests?: unknown }>) : [])
      .filter((u) => u.address === dial)
      .reduce((sum, u) => sum + (typeof u.num_requests === "number" ? u.num_requests : 0), 0);
  }

  /**
   * Starts the new release on a free loopback port of the target; when docker
   * refuses the port (taken since the table was read), removes the container
   * it created and tries another, three times in all. Returns `127.0.0.1:PORT`.
   */
  async function start(table: PortTable): Promise<string> {
    const tried = new Set<number>();
    for (;;) {
      const port = pickLoopbackPort(table, tried);
      tried.add(port);
      const spec = dockerRun({
        name: next,
        image: deploy.image,
        ports: [`127.0.0.1:${port}:${proxy.appPort}`], // loopback only: the proxy is the public face
        env: deploy.env,
        labels: { [LABEL_APP]: request.app, [LABEL_SHA]: request.sha, [LABEL_JOB]: jobId },
      });
      const result = await run(spec.argv, { timeoutMs: 5 * 60_000, stdin: spec.stdin });
      if (result.exitCode === 0) return `127.0.0.1:${port}`;
      if (!portConflict(result.stderr) || tried.size >= 3) throw new Error(`starting ${next} failed (exit ${result.exitCode})${lastLine(result.stderr) ? `: ${lastLine(result.stderr)}` : ""}`);
      log("stderr", `port ${port} on 127.0.0.1 was taken (${lastLine(result.stderr)}); trying another`);
      await must(dockerRemove(next), `removing ${next} to start it on another port`);
    }
  }

  /**
   * Brings the app back to one release after a cutover that never finished
   * (the relay died), the agent's CutoverRepair: a `-next-` container the
   * route points at is the live release and takes the name; any other goes;
   * then the route is pointed at the live release if it points elsewhere.
   * Returns Caddy's config as it is afterwards.
   */
  async function repair(found: Release[], config: unknown): Promise<unknown> {
    const current = upstreamOf(config, routeId(name));
    let switched: Release | null = null;
    for (const leftover of found.filter((r) => r.name.startsWith(nextPrefix(name)))) {
      if (!switched && current && leftover.published === current) {
        switched = leftover;
        continue;
      }
      await must(dockerRemove(leftover.name), `removing ${leftover.name}`);
      log("stderr", `repair: removed ${leftover.name}, left by an interrupted cutover that never switched to it`);
    }
    let live = found.find((r) => r.name === name) ?? null;
    if (switched) {
      if (live) {
        await must(dockerRemove(name), `removing the old ${name}`);
        log("stderr", `repair: removed the old release ${name}; traffic had already moved to ${switched.name}`);
      }
      await must(dockerRename(switched.name, name), `renaming ${switched.name} to ${name}`);
      log("stderr", `repair: ${switched.name}, which the proxy serves, is now ${name}`);
      live = switched;
    }
    const at = live?.state === "running" ? live.published : null;
    if (!at || at === current) return config;
    const repaired = withRoute(config, route(at));
    await admin("POST", "/load", repaired);
    log("stderr", `repair: the proxy's route for ${name} pointed at ${current ?? "nothing"}; it now points at the live release on ${at}`);
    return repaired;
  }
}

interface Release {
  name: string;
  state: string;
  /** `127.0.0.1:PORT` the app port is published on, or null. */
  published: string | null;
}

/** One line of dockerListReleases: `NAME ID STATE PORTS…`. */
export function parseRelease(row: string, appPort: number): Release | null {
  const [name, , state = "unknown", ...ports] = row.trim().split(/\s+/);
  if (!name) return null;
  const at = new RegExp(`(?:^|,)127\\.0\\.0\\.1:(\\d+)->${appPort}/tcp(?:,|$)`).exec(ports.join(""));
  return { name, state, published: at ? `127.0.0.1:${at[1]}` : null };
}
