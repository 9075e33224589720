import { setTimeout as sleep } from "node:timers/promises";
import {
  commandExists,
  curlProbe,
  dockerFindContainer,
  dockerFindParked,
  dockerImageInspect,
  dockerLogs,
  dockerPull,
  dockerRemove,
  dockerRename,
  dockerRun,
  dockerStart,
  dockerStop,
  LABEL_APP,
  LABEL_JOB,
  LABEL_SHA,
  parkedPrefix,
  STOP_GRACE_S,
  wgetProbe,
  type Argv,
} from "./commands.ts";
import { RelayError } from "./errors.ts";
import type { DeployRequest } from "./request.ts";
import type { Runner, RunOptions, RunResult } from "./runner.ts";

export type DeployStep = "pull" | "stop_previous" | "start" | "health" | "cleanup" | "rollback";
export type LogStream = "stdout" | "stderr" | "system";

/** The last NDJSON line of a deploy (docs/ssh-relay-api.md). */
export interface DeployResult {
  status: "succeeded" | "failed" | "cancelled";
  step: DeployStep;
  error: string | null;
  rolled_back: boolean;
}

export interface DeployOptions {
  run: Runner;
  request: DeployRequest;
  log: (stream: LogStream, text: string) => void;
  /** Cancels the deploy: it stops at the next step (a pull or health wait at once) and rolls back. */
  signal: AbortSignal;
  pollIntervalMs?: number;
  pullTimeoutMs?: number;
  rollbackTimeoutMs?: number;
  /** Without a health URL the container must still run after this long. */
  settleMs?: number;
  /** `docker stop` grace before SIGKILL (the agent's 10 s). */
  stopGraceS?: number;
}

class Cancelled extends Error {}

/**
 * One deploy with the docker CLI on the target, the .NET agent's steps
 * (agent-dotnet/README.md, "What a deploy does"):
 *
 * 1. pull — always (a tag may move); if the pull fails but the image is on the
 *    host, that copy is used with a warning. Nothing has changed yet.
 * 2. stop_previous — a deploy of this container that was interrupted (the
 *    relay died mid-way) is undone first: the container it started, if any,
 *    is removed and the release it parked is renamed back. Then `<container>`
 *    is renamed `<container>-previous-<job>` and stopped.
 * 3. start — `docker run` with name, ports, env and the deploybot labels.
 * 4. health — the URL polled once a second with curl or wget on the target
 *    until a 2xx, the timeout, or the container exits.
 * 5. cleanup — the parked container is removed. From here on the deploy has
 *    succeeded: a cancel is ignored and a cleanup failure is a warning.
 *
 * Any failure or cancel in 2–4 rolls back, judged from docker's state rather
 * than from what this function believes it did (a killed command may still
 * have been carried out): the container holding the name is removed only if
 * it carries this job's label, then the parked one is renamed back and
 * started if it ran before. Rollback ignores the cancel and is bounded.
 *
 * Never throws for a failed deploy: the result says what happened.
 */
export async function runDeploy({
  run,
  request,
  log,
  signal,
  pollIntervalMs = 250,
  pullTimeoutMs = 15 * 60_000,
  rollbackTimeoutMs = 90_000,
  settleMs = 2000,
  stopGraceS = STOP_GRACE_S,
}: DeployOptions): Promise<DeployResult> {
  const { jobId, deploy } = request;
  const name = deploy.container;
  const parked = `${parkedPrefix(name)}${jobId}`;
  let step: DeployStep = "pull";
  let touched = false;
  let previousRan = false;

  const checkpoint = () => {
    if (signal.aborted) throw new Cancelled("cancelled");
  };
  /** A command's output lines, each on its own stream. */
  const passthrough = (stream: "stdout" | "stderr", text: string) => log(stream, text);

  /** Runs ARGV; a non-zero exit is a failure described by WHAT and the command's last stderr line. */
  const must = async (argv: Argv, what: string, options: RunOptions = {}): Promise<RunResult> => {
    const result = await run(argv, options);
    if (result.exitCode !== 0) throw new Error(`${what} failed (exit ${result.exitCode})${lastLine(result.stderr) ? `: ${lastLine(result.stderr)}` : ""}`);
    return result;
  };
  /** The container named exactly NAME (optionally with a label), or null. */
  const find = async (container: string, label?: { key: string; value: string }): Promise<{ id: string; state: string } | null> => {
    const result = await must(dockerFindContainer(container, label), `looking up container ${container}`);
    const [id, state = "unknown"] = (result.stdout.trim().split("\n")[0] ?? "").trim().split(/\s+/);
    return id ? { id, state } : null;
  };

  try {
    // 1. pull
    checkpoint();
    log("system", `pulling ${deploy.image}`);
    const pulled = await run(dockerPull(deploy.image), { timeoutMs: pullTimeoutMs, signal, onLine: passthrough });
    if (pulled.exitCode !== 0) {
      const reason = lastLine(pulled.stderr) || `exit ${pulled.exitCode}`;
      const local = await run(dockerImageInspect(deploy.image), { signal });
      if (local.exitCode !== 0) throw new Error(`pulling ${deploy.image} failed: ${reason}`);
      log("stderr", `pulling ${deploy.image} failed (${reason}); using the copy already on the host`);
    }

    // 2. stop_previous
    step = "stop_previous";
    checkpoint();
    const restored = await undoInterrupted();
    const current = await find(name);
    if (current) {
      // A restored release was the live one when its deploy began: treat it as running.
      previousRan = restored || current.state === "running" || current.state === "restarting";
      touched = true;
      log("system", `parking ${name} as ${parked}`);
      await must(dockerRename(name, parked), `renaming ${name} to ${parked}`);
      if (previousRan) await must(dockerStop(parked, stopGraceS), `stopping ${parked}`, { timeoutMs: (stopGraceS + 60) * 1000 });
    } else {
      log("system", `no container ${name} yet: first deploy`);
    }

    // 3. start
    step = "start";
    checkpoint();
    touched = true;
    log("system", `starting ${name} from ${deploy.image}`);
    const runSpec = dockerRun({
      name,
      image: deploy.image,
      ports: deploy.ports,
      env: deploy.env,
      labels: { [LABEL_APP]: request.app, [LABEL_SHA]: request.sha, [LABEL_JOB]: jobId },
    });
    const started = await must(runSpec.argv, `starting ${name}`, { timeoutMs: 5 * 60_000, stdin: runSpec.stdin });
    log("stdout", `container ${started.stdout.trim().slice(0, 12)} started`);

    // 4. health
    step = "health";
    checkpoint();
    try {
      await waitHealthy();
    } catch (err) {
      if (!isCancel(err)) await showContainerOutput();
      throw err;
    }
  } catch (err) {
    const cancelled = isCancel(err);
    const reason = cancelled ? "cancelled" : (err as Error).message;
    log(cancelled ? "system" : "stderr", cancelled ? `cancelled during ${step}` : `${step} failed: ${reason}`);
    if (!touched) {
      return { status: cancelled ? "cancelled" : "failed", step, error: cancelled ? null : reason, rolled_back: false };
    }
    const rollbackError = await rollback();
    if (rollbackError) {
      return { status: cancelled ? "cancelled" : "failed", step: "rollback", error: cancelled ? `rollback failed: ${rollbackError}` : `${reason}; rollback failed: ${rollbackError}`, rolled_back: false };
    }
    return { status: cancelled ? "cancelled" : "failed", step, error: cancelled ? null : reason, rolled_back: true };
  }

  // 5. cleanup: the deploy has succeeded; nothing from here changes that.
  step = "cleanup";
  try {
    if (await find(parked)) {
      log("system", `removing ${parked}`);
      await must(dockerRemove(parked), `removing ${parked}`);
    }
  } catch (err) {
    log("stderr", `warning: ${(err as Error).message}`);
  }
  log("system", `deployed ${deploy.image} as ${name}`);
  return { status: "succeeded", step: "cleanup", error: null, rolled_back: false };

  /**
   * Undoes a deploy of this container that never finished: its relay died
   * between parking the live release and cleaning up, so the controller never
   * heard it succeed. The container that deploy started (carrying its job
   * label) is removed and the parked release takes its name back, as the .NET
   * agent does at its next start. True when a release was restored.
   * Anything else holding the name is left alone, with an error.
   */
  async function undoInterrupted(): Promise<boolean> {
    const rows = (await must(dockerFindParked(name, request.app), `looking for containers parked by an earlier deploy of ${name}`)).stdout
      .split("\n")
      .map((row) => row.trim().split(/\s+/)[0] ?? "")
      .filter(Boolean);
    if (rows.length === 0) return false;
    if (rows.length > 1) throw new Error(`several earlier deploys of ${name} were interrupted (${rows.join(", ")}); keep one, rename it ${name} and remove the others by hand`);
    const left = rows[0]!;
    const interruptedJob = left.slice(parkedPrefix(name).length);
    log("stderr", `the deploy of job ${interruptedJob} was interrupted and left ${left}: undoing it first`);
    if (await find(name)) {
      if (!(await find(name, { key: LABEL_JOB, value: interruptedJob }))) {
        throw new Error(`${left} was parked by job ${interruptedJob}, but ${name} is held by a container that job did not start; restore or remove one of them by hand`);
      }
      log("system", `removing the ${name} that job ${interruptedJob} started`);
      await must(dockerRemove(name), `removing the ${name} that job ${interruptedJob} started`);
    }
    touched = true; // from here a failure rolls back: the parked release gets its name again
    log("system", `restoring ${left} as ${name}`);
    await must(dockerRename(left, name), `renaming ${left} back to ${name}`);
    return true;
  }

  async function waitHealthy(): Promise<void> {
    const health = deploy.health;
    if (!health) {
      log("system", `no health URL: checking that ${name} still runs after ${settleMs / 1000} s`);
      await sleep(settleMs, undefined, { signal }).catch(() => undefined);
      checkpoint();
      await mustBeRunning();
      return;
    }
    const tool = (await run(commandExists("curl"))).exitCode === 0 ? "curl" : (await run(commandExists("wget"))).exitCode === 0 ? "wget" : null;
    if (!tool) throw new Error("neither curl nor wget is installed on the target to check health");
    log("system", `waiting up to ${health.timeoutMs / 1000} s for ${health.url} to answer 2xx (${tool})`);
    const deadline = Date.now() + health.timeoutMs;
    let last = "";
    for (;;) {
      checkpoint();
      const remainingS = Math.max(1, Math.min(5, Math.ceil((deadline - Date.now()) / 1000)));
      const answer = await probe(tool, health.url, remainingS);
      if (answer.ok) {
        log("stdout", `healthy: ${answer.detail}`);
        return;
      }
      // Only the first of a run of identical answers is logged.
      if (answer.detail !== last) log("stdout", `not healthy yet: ${answer.detail}`);
      last = answer.detail;
      await mustBeRunning();
      if (Date.now() >= deadline) throw new Error(`${health.url} did not answer 2xx within ${health.timeoutMs / 1000} s (last: ${answer.detail})`);
      try {
        await sleep(Math.min(pollIntervalMs, Math.max(0, deadline - Date.now())), undefined, { signal });
      } catch {
        throw new Cancelled("cancelled");
      }
    }
  }

  async function probe(tool: "curl" | "wget", url: string, timeoutS: number): Promise<{ ok: boolean; detail: string }> {
    const options = { timeoutMs: (timeoutS + 10) * 1000, signal };
    if (tool === "curl") {
      const result = await run(curlProbe(url, timeoutS), options);
      const code = result.stdout.trim();
      if (/^[1-5]\d\d$/.test(code)) return { ok: code.startsWith("2"), detail: `HTTP ${code}` };
      return { ok: false, detail: lastLine(result.stderr) || `curl exit ${result.exitCode}` };
    }
    const result = await run(wgetProbe(url, timeoutS), options);
    const statuses = [...result.stderr.matchAll(/HTTP\/[\d.]+ (\d{3})/g)].map((m) => m[1]);
    const status = statuses.at(-1);
    if (result.exitCode === 0) return { ok: true, detail: status ? `HTTP ${status}` : "HTTP 2xx" };
    return { ok: false, detail: status ? `HTTP ${status}` : lastLine(result.stderr) || `wget exit ${result.exitCode}` };
  }

  async function mustBeRunning(): Promise<void> {
    const state = await find(name);
    if (!state) throw new Error(`${name} disappeared`);
    if (state.state !== "running") throw new Error(`${name} is ${state.state}, not running`);
  }

  async function showContainerOutput(): Promise<void> {
    try {
      log("system", `last output of ${name}:`);
      await run(dockerLogs(name, 20), { timeoutMs: 15_000, onLine: passthrough });
    } catch {
      // only a diagnostic
    }
  }

  /** Puts the host back as it was; returns null or what went wrong. */
  async function rollback(): Promise<string | null> {
    log("system", "rolling back");
    const work = (async () => {
      const ours = await find(name, { key: LABEL_JOB, value: jobId });
      if (ours) {
        log("system", `removing the new ${name}`);
        await must(dockerRemove(name), `removing the new ${name}`);
      }
      if (await find(parked)) {
        const holder = await find(name);
        if (holder) throw new Error(`${name} is held by a container this job did not start; ${parked} left in place`);
        log("system", `restoring ${parked} as ${name}`);
        await must(dockerRename(parked, name), `renaming ${parked} back to ${name}`);
        if (previousRan) await must(dockerStart(name), `starting ${name} again`);
      }
      log("system", "rolled back");
      return null;
    })();
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`rollback did not finish within ${rollbackTimeoutMs / 1000} s`), rollbackTimeoutMs);
    });
    try {
      return await Promise.race([work.catch((err: Error) => err.message), bound]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function isCancel(err: unknown): boolean {
  return err instanceof Cancelled || (err instanceof RelayError && err.code === "cancelled");
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1)?.trim() ?? "";
}
